// 风险分级: every elevator's risk level (高 / 较高 / 一般 / 低) with the points
// each factor took, filterable by level and district; the district map
// coloured by the count of high and elevated risk elevators (or of the level
// chosen), a click filters the list. RiskBadge and RiskFactors are shared with
// the equipment list and the elevator page.
import { useMemo } from 'preact/hooks';
import { qs } from '../api.js';
import { districtName, t, type Key } from '../i18n.js';
import { useApi } from '../hooks.js';
import { href, setQuery, type Route } from '../router.js';
import { dateOnly } from '../format.js';
import { Card, Loaded, Pager, Select } from '../ui.js';
import { DistrictMap, MAP_DISTRICTS, type MapValue } from '../map/DistrictMap.js';
import { currentUser } from '../session.js';
import type { Paged } from '../types.js';

export const RISK_LEVELS = ['high', 'elevated', 'general', 'low'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];
const BADGE: Record<RiskLevel, string> = { high: 'sev-critical', elevated: 'sev-major', general: 'sev-minor', low: 'sev-warning' };

export interface FactorScore { factor: string; value: number | null; points: number }
export interface ElevatorRisk {
  code: string; district: string; address: string; maintenanceUnit: string; level: RiskLevel; score: number; factors: FactorScore[];
}
interface RiskList extends Paged<ElevatorRisk> { computedAt: number; period: { from: number; to: number }; counts: Record<RiskLevel, number> }
interface Scoring {
  periodDays: number; age: { freeYears: number; perYear: number; max: number };
  weights: Record<string, number>; thresholds: { high: number; elevated: number; general: number };
}

export const riskName = (l: string) => t(`risk_${l}` as Key);

export function RiskBadge(props: { level: string | null | undefined; score?: number; testid?: string }) {
  if (!props.level) return <span class="muted">—</span>;
  return (
    <span class={`badge ${BADGE[props.level as RiskLevel] ?? ''}`} data-testid={props.testid} data-level={props.level} title={props.score !== undefined ? t('riskPoints', { n: props.score }) : undefined}>
      {riskName(props.level)}
    </span>
  );
}

const factorValue = (f: FactorScore) => (f.factor === 'age' ? t('riskYears', { n: f.value ?? '—' }) : f.factor.endsWith('Overdue') ? '' : `×${f.value}`);

/** The factors that took points: "困人 ×2 · 6 分". */
export function RiskFactors(props: { factors: FactorScore[]; testid?: string }) {
  if (!props.factors.length) return <span class="muted">{t('riskNoFactors')}</span>;
  return (
    <span class="risk-factors" data-testid={props.testid}>
      {props.factors.map((f, i) => (
        <span key={f.factor} data-factor={f.factor} data-points={f.points}>
          {i > 0 && ' · '}{t(`rf_${f.factor}` as Key)} {factorValue(f)} <span class="muted small">({t('riskPoints', { n: f.points })})</span>
        </span>
      ))}
    </span>
  );
}

/** One elevator's level and factors (the elevator page). */
export function ElevatorRiskLine(props: { code: string }) {
  const r = useApi<ElevatorRisk>(`/api/v1/risk/${encodeURIComponent(props.code)}`);
  if (!r.data) return <span class="muted">—</span>;
  return (
    <span data-testid="elevator-risk">
      <a href={href('/risk', { level: r.data.level })}><RiskBadge level={r.data.level} testid="elevator-risk-level" /></a> <span class="muted small">{t('riskPoints', { n: r.data.score })}</span>
      <div class="small"><RiskFactors factors={r.data.factors} testid="elevator-risk-factors" /></div>
    </span>
  );
}

/**
 * The district map by risk: per district the count of high and elevated elevators (or of `level`), from
 * the map's base colour to red by the share of the largest count (the risk page and the overview).
 */
export function riskMapValues(byDistrict: Record<string, Record<RiskLevel, number>> | undefined, level = ''): Record<string, MapValue> {
  const count = (c: Record<RiskLevel, number>) => (level ? c[level as RiskLevel] : c.high + c.elevated);
  const entries = Object.entries(byDistrict ?? {});
  const max = Math.max(1, ...entries.map(([, c]) => count(c)));
  return Object.fromEntries(entries.map(([d, c]) => {
    const a = count(c) / max;
    return [d, { color: `rgb(${Math.round(42 + a * 150)}, ${Math.round(52 - a * 20)}, ${Math.round(72 - a * 30)})`, label: String(count(c)) }];
  }));
}

const PAGE_SIZE = 50;

export function RiskPage(props: { route: Route }) {
  const q = props.route.query;
  const level = q.get('level') ?? '';
  const district = q.get('district') ?? '';
  const page = Number(q.get('page') ?? 1) || 1;
  const res = useApi<RiskList>(`/api/v1/risk${qs({ level, district, page, pageSize: PAGE_SIZE })}`);
  const byDistrict = useApi<Record<string, Record<RiskLevel, number>>>('/api/v1/risk/districts');
  const scoring = useApi<Scoring>('/api/v1/risk/scoring');
  const districts = currentUser()?.districts?.length ? currentUser()!.districts! : MAP_DISTRICTS;
  const mapValues = useMemo(() => riskMapValues(byDistrict.data, level), [byDistrict.data, level]);
  return (
    <div class="page" data-testid="page-risk">
      <div class="page-head">
        <h1>{t('riskTitle')}</h1>
        <div class="filters">
          <Select label={t('riskLevel')} value={level} onChange={(v) => setQuery({ level: v, page: null })} options={RISK_LEVELS.map((l) => [l, riskName(l)])} testid="filter-level" />
          <Select label={t('district')} value={district} onChange={(v) => setQuery({ district: v, page: null })} options={districts.map((d) => [d, districtName(d)])} testid="filter-district" />
        </div>
      </div>
      <div class="grid two">
        <Card title={level ? riskName(level) : t('riskMapHigh')} testid="risk-map">
          <DistrictMap values={mapValues} selected={district || null} onSelect={(d) => setQuery({ district: d, page: null })} />
        </Card>
        <Card title={t('riskScoring')} testid="risk-scoring">
          {scoring.data && (
            <div class="small">
              <p>{t('riskScoringText', { ...scoring.data.weights, ...scoring.data.age, days: scoring.data.periodDays })}</p>
              <p>{t('riskThresholdsText', scoring.data.thresholds)}</p>
            </div>
          )}
          {res.data && (
            <div class="risk-counts" data-testid="risk-counts">
              {RISK_LEVELS.map((l) => (
                <a key={l} href={href('/risk', { level: l, district: district || null })} class="risk-count" style="margin-right:14px" data-testid={`risk-count-${l}`}>
                  <RiskBadge level={l} /> <b>{res.data!.counts[l]}</b>
                </a>
              ))}
            </div>
          )}
        </Card>
      </div>
      <Card>
        <Loaded data={res.data} error={res.error} reload={res.reload}>
          {(d) => (
            <>
              <div class="muted small pad-b">{t('scPeriod')} {dateOnly(d.period.from)} — {dateOnly(d.period.to)}</div>
              <table class="table" data-testid="risk-table">
                <thead><tr><th>{t('code')}</th><th>{t('district')}</th><th>{t('address')}</th><th>{t('unit')}</th><th>{t('riskLevel')}</th><th class="num">{t('riskScore')}</th><th>{t('riskFactors')}</th></tr></thead>
                <tbody>
                  {d.items.length === 0 && <tr><td colSpan={7} class="muted center">{t('empty')}</td></tr>}
                  {d.items.map((e) => (
                    <tr key={e.code} data-testid={`risk-row-${e.code}`}>
                      <td><a href={href(`/equipment/elevator/${e.code}`)}>{e.code}</a></td>
                      <td>{districtName(e.district)}</td>
                      <td class="ellipsis" title={e.address}>{e.address}</td>
                      <td>{e.maintenanceUnit}</td>
                      <td><RiskBadge level={e.level} /></td>
                      <td class="num">{e.score}</td>
                      <td><RiskFactors factors={e.factors} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager page={page} pageSize={PAGE_SIZE} total={d.total} onPage={(p) => setQuery({ page: p })} />
            </>
          )}
        </Loaded>
      </Card>
    </div>
  );
}
