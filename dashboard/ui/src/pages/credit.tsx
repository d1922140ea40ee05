// 信用等级: every maintenance unit's credit grade for a period (computed now,
// each with the points every factor took), the published red and black lists
// (frozen versions, with exports), and one unit's factors and grade history.
import { useState } from 'preact/hooks';
import { api, qs, type ApiError } from '../api.js';
import { getLang, t } from '../i18n.js';
import { useApi } from '../hooks.js';
import { setQuery, type Route } from '../router.js';
import { addDays, num, periodText, shortDateTime } from '../format.js';
import { canWrite } from '../session.js';
import { Card, Empty, ErrorBox, Loaded, Modal } from '../ui.js';
import type { Paged } from '../types.js';

type Grade = 'A' | 'B' | 'C' | 'D';
interface FactorPoints { factor: string; value: number | null; points: number; perUnit: number; cap: number; capped: boolean }
interface UnitGrade { unit: string; name: string | null; elevators: number; score: number | null; grade: Grade | null; partial: boolean; insufficient: string[]; factors: FactorPoints[] }
interface Scoring { thresholds: { A: number; B: number; C: number } }
type Measures = Record<string, { zh: string; en: string }>;
interface Grades { period: { from: string; to: string }; scoring: Scoring; measures: Measures; items: UnitGrade[]; red: string[]; black: string[] }
interface PublicationSummary { id: number; periodFrom: string; periodTo: string; version: number; publishedAt: number; publishedBy: string; considered: number; red: number; black: number }
interface Publication extends Omit<PublicationSummary, 'red' | 'black' | 'considered'> { grades: UnitGrade[]; red: string[]; black: string[] }
interface HistoryEntry { periodFrom: string; periodTo: string; listId: number; version: number; publishedAt: number; grade: Grade | null; score: number | null; partial: boolean }

export const GradeBadge = (props: { g: Grade | null; partial?: boolean }) => (
  <span class={`badge grade-${props.g ?? 'none'}`} data-grade={props.g ?? ''} title={props.partial ? t('crPartial') : undefined}>
    {props.g ?? t('crNotGraded')}{props.partial && '*'}
  </span>
);

const measure = (m: Measures | undefined, f: string) => m?.[f]?.[getLang()] ?? f;

export function CreditPage(props: { route: Route }) {
  const q = props.route.query;
  const from = q.get('from') ?? '';
  const to = q.get('to') ?? '';
  const unit = q.get('unit');
  const grades = useApi<Grades>(`/api/v1/credit/grades${qs({ from, to })}`);
  const pubs = useApi<Paged<PublicationSummary>>('/api/v1/credit-lists?pageSize=100');
  const pubId = Number(q.get('pub') ?? 0) || pubs.data?.items[0]?.id || 0;
  const pub = useApi<Publication>(pubId ? `/api/v1/credit-lists/${pubId}` : null);
  const [fromIn, setFrom] = useState(from);
  const [toIn, setTo] = useState(to ? addDays(to, -1) : '');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState<ApiError | null>(null);
  const period = grades.data?.period;

  const publish = async () => {
    setBusy(true);
    setErr(null);
    try {
      const p = await api<Publication>('/api/v1/credit-lists', { method: 'POST', body: period ?? {} });
      pubs.reload();
      setQuery({ pub: p.id });
    } catch (e) {
      setErr(e as ApiError);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page" data-testid="page-credit">
      <div class="page-head">
        <h1>{t('crTitle')}</h1>
        <form class="filters" onSubmit={(e) => { e.preventDefault(); setQuery({ from: fromIn, to: toIn ? addDays(toIn, 1) : '' }); }}>
          <label class="field inline"><span>{t('scPeriod')}</span><input type="date" value={fromIn || period?.from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} data-testid="credit-from" /></label>
          <label class="field inline"><span>—</span><input type="date" value={toIn || (period && addDays(period.to, -1))} onInput={(e) => setTo((e.target as HTMLInputElement).value)} data-testid="credit-to" /></label>
          <button class="btn small" type="submit">{t('search')}</button>
          {canWrite() && <button class="btn small primary" type="button" disabled={busy || !period} onClick={() => void publish()} data-testid="credit-publish">{t('crPublish')}</button>}
        </form>
      </div>
      <ErrorBox error={err} />
      <Card title={t('crGrades')} testid="credit-grades">
        <Loaded data={grades.data} error={grades.error} reload={grades.reload}>
          {(d) => (
            <>
              <div class="muted small pad-b">
                {t('scPeriod')} <span data-testid="credit-period">{periodText(d.period.from, d.period.to)}</span> · {t('crRule', { a: d.scoring.thresholds.A, b: d.scoring.thresholds.B, c: d.scoring.thresholds.C })}
              </div>
              <table class="table" data-testid="credit-table">
                <thead><tr><th>{t('unit')}</th><th class="num">{t('scElevators')}</th><th class="num">{t('crScore')}</th><th>{t('crGrade')}</th><th>{t('crDeductions')}</th></tr></thead>
                <tbody>
                  {d.items.map((g) => (
                    <tr key={g.unit} class={`clickable${unit === g.unit ? ' selected' : ''}`} onClick={() => setQuery({ unit: g.unit })} data-testid={`credit-row-${g.unit}`}>
                      <td><b>{g.name ?? g.unit}</b> <span class="muted small">{g.unit}</span></td>
                      <td class="num">{num(g.elevators)}</td>
                      <td class="num" data-testid="credit-score">{g.score === null ? '—' : g.score}</td>
                      <td><GradeBadge g={g.grade} partial={g.partial} /></td>
                      <td class="small">
                        {g.factors.filter((f) => f.points > 0).map((f) => <span key={f.factor} class="deduction" data-factor={f.factor}>{measure(d.measures, f.factor)} −{f.points}</span>)}
                        {g.insufficient.length > 0 && <div class="muted">{t('crInsufficientMark')}</div>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </Loaded>
      </Card>
      <div class="grid side">
        <Card title={t('crPublications')} testid="credit-publications">
          <Loaded data={pubs.data} error={pubs.error} reload={pubs.reload}>
            {(d) => (d.items.length === 0 ? <Empty text={t('crNoPublications')} /> : (
              <ul class="list selectable">
                {d.items.map((x) => (
                  <li key={x.id} class={x.id === pubId ? 'selected' : ''} onClick={() => setQuery({ pub: x.id })} data-testid={`credit-pub-${x.id}`}>
                    <b>{periodText(x.periodFrom, x.periodTo)}</b> · {t('ivVersion', { v: x.version })}
                    <div class="muted small">{t('crPublishedBy', { t: shortDateTime(x.publishedAt), by: x.publishedBy })} · {t('crCounts', { red: x.red, black: x.black })}</div>
                  </li>
                ))}
              </ul>
            ))}
          </Loaded>
        </Card>
        <Card title={pub.data ? `${t('crLists')} · ${periodText(pub.data.periodFrom, pub.data.periodTo)} · ${t('ivVersion', { v: pub.data.version })}` : t('crLists')} testid="credit-lists"
          actions={pub.data && (
            <>
              <a class="btn small" href={`/api/v1/credit-lists/${pub.data.id}/export?format=xlsx`} download data-testid="credit-export-xlsx">{t('ivExportXlsx')}</a>
              <a class="btn small" href={`/api/v1/credit-lists/${pub.data.id}/export?format=csv&list=red`} download>{t('crRedCsv')}</a>
              <a class="btn small" href={`/api/v1/credit-lists/${pub.data.id}/export?format=csv&list=black`} download>{t('crBlackCsv')}</a>
            </>
          )}>
          {!pubId ? <Empty text={t('crNoPublications')} /> : (
            <Loaded data={pub.data} error={pub.error} reload={pub.reload}>
              {(p) => (
                <div class="grid two">
                  <ListOf title={t('crRed')} kind="red" units={p.red} grades={p.grades} />
                  <ListOf title={t('crBlack')} kind="black" units={p.black} grades={p.grades} />
                </div>
              )}
            </Loaded>
          )}
        </Card>
      </div>
      {unit && <UnitPanel unit={unit} g={grades.data?.items.find((x) => x.unit === unit)} measures={grades.data?.measures} onClose={() => setQuery({ unit: null })} />}
    </div>
  );
}

function ListOf(props: { title: string; kind: 'red' | 'black'; units: string[]; grades: UnitGrade[] }) {
  const by = new Map(props.grades.map((g) => [g.unit, g]));
  return (
    <section data-testid={`credit-${props.kind}`}>
      <h3 class={`list-${props.kind}`}>{props.title}</h3>
      {props.units.length === 0 ? <Empty text={t('crNone')} /> : (
        <ol class="list">
          {props.units.map((u) => {
            const g = by.get(u);
            return <li key={u} class="clickable" onClick={() => setQuery({ unit: u })} data-testid={`credit-${props.kind}-${u}`}><b>{g?.name ?? u}</b> <span class="muted small">{u}</span> · {g?.score} <GradeBadge g={g?.grade ?? null} /></li>;
          })}
        </ol>
      )}
    </section>
  );
}

function UnitPanel(props: { unit: string; g: UnitGrade | undefined; measures: Measures | undefined; onClose: () => void }) {
  const h = useApi<{ items: HistoryEntry[] }>(`/api/v1/credit/units/${encodeURIComponent(props.unit)}/history`);
  const g = props.g;
  return (
    <Modal title={`${g?.name ?? props.unit} · ${t('crFactors')}`} onClose={props.onClose} testid="credit-unit">
      {g && (
        <>
          <p>{t('crScore')} <b data-testid="credit-unit-score">{g.score ?? '—'}</b> <GradeBadge g={g.grade} partial={g.partial} /></p>
          {g.insufficient.map((s) => <p key={s} class="muted small" data-testid="credit-insufficient">{s}</p>)}
          <table class="table" data-testid="credit-factors">
            <thead><tr><th>{t('crFactor')}</th><th class="num">{t('crValue')}</th><th class="num">{t('crPerUnit')}</th><th class="num">{t('crCap')}</th><th class="num">{t('crPoints')}</th></tr></thead>
            <tbody>
              {g.factors.map((f) => (
                <tr key={f.factor} data-factor={f.factor} class={f.points > 0 ? 'bad' : ''}>
                  <td>{measure(props.measures, f.factor)}</td>
                  <td class="num">{f.value === null ? t('scInsufficient') : f.value}</td>
                  <td class="num">{f.perUnit}</td>
                  <td class="num">{f.cap}</td>
                  <td class="num" data-testid={`points-${f.factor}`}>{f.points > 0 ? `−${f.points}` : 0}{f.capped && ` (${t('crCapped')})`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <h3>{t('crHistory')}</h3>
      <Loaded data={h.data} error={h.error} reload={h.reload}>
        {(d) => (d.items.length === 0 ? <Empty text={t('crNoHistory')} /> : (
          <table class="table" data-testid="credit-history">
            <thead><tr><th>{t('scPeriod')}</th><th>{t('crVersion')}</th><th class="num">{t('crScore')}</th><th>{t('crGrade')}</th></tr></thead>
            <tbody>
              {d.items.map((x) => (
                <tr key={x.listId}><td>{periodText(x.periodFrom, x.periodTo)}</td><td>{t('ivVersion', { v: x.version })}</td><td class="num">{x.score ?? '—'}</td><td><GradeBadge g={x.grade} partial={x.partial} /></td></tr>
              ))}
            </tbody>
          </table>
        ))}
      </Loaded>
    </Modal>
  );
}
