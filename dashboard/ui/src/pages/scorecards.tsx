// 维保单位: the maintenance-unit scorecards, sortable, with CSV/XLSX export.
import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { qs } from '../api.js';
import { getLang, t } from '../i18n.js';
import { useApi } from '../hooks.js';
import { href, setQuery, type Route } from '../router.js';
import { num, pct } from '../format.js';
import { Card, Loaded } from '../ui.js';
import type { Criteria, Scorecard } from '../types.js';

type Col = { key: string; label: () => string; value: (s: Scorecard) => number | string | null; show: (s: Scorecard) => ComponentChildren; num?: boolean };

const insufficient = () => <span class="muted insufficient" data-testid="insufficient">{t('scInsufficient')}</span>;
const COLS: Col[] = [
  { key: 'name', label: () => t('unit'), value: (s) => s.name ?? s.unit, show: (s) => <><a href={href('/equipment', { unit: s.unit })}><b>{s.name ?? s.unit}</b></a> <span class="muted small">{s.unit}</span></> },
  { key: 'elevators', label: () => t('scElevators'), value: (s) => s.elevators, show: (s) => num(s.elevators), num: true },
  { key: 'passRate', label: () => t('scPassRate'), value: (s) => (s.inspections.insufficient ? null : s.inspections.passRate), num: true,
    show: (s) => (s.inspections.insufficient || s.inspections.passRate === null ? insufficient() : <span class={s.inspections.passRate < 0.7 ? 'bad' : ''}>{pct(s.inspections.passRate)} <span class="muted small">({s.inspections.passed}/{s.inspections.first})</span></span>) },
  { key: 'complaintRate', label: () => t('scComplaintRate'), value: (s) => (s.complaints.insufficient ? null : s.complaints.rate), num: true,
    show: (s) => (s.complaints.insufficient || s.complaints.rate === null ? insufficient() : <span class={s.complaints.rate >= 5 ? 'bad' : ''}>{s.complaints.rate.toFixed(2)} <span class="muted small">({s.complaints.count})</span></span>) },
  { key: 'overdue', label: () => t('scOverdue'), value: (s) => s.maintenance.overdueElevatorDays, num: true,
    show: (s) => <>{num(s.maintenance.overdueEpisodes)} <span class="muted small">/ {num(Math.round(s.maintenance.overdueElevatorDays))} {t('wElevatorDays')}</span></> },
  { key: 'overdueInsp', label: () => t('eqInspOverdue'), value: (s) => s.overdueInspections.count, show: (s) => num(s.overdueInspections.count), num: true },
  { key: 'entrapments', label: () => t('scEntrapments'), value: (s) => s.entrapments.count, show: (s) => <>{num(s.entrapments.count)}{s.entrapments.per100 !== null && s.entrapments.count > 0 && <span class="muted small"> ({s.entrapments.per100.toFixed(1)}/100)</span>}</>, num: true },
  { key: 'arrival', label: () => t('scRescue'), value: (s) => s.entrapments.meanArrivalMin, num: true,
    show: (s) => (s.entrapments.meanArrivalMin === null ? <span class="muted">—</span> : <span class={s.entrapments.meanArrivalMin > 30 ? 'bad' : ''}>{t('minutes', { n: s.entrapments.meanArrivalMin.toFixed(1) })}</span>) },
  { key: 'dangerous', label: () => t('wDangerousFaults'), value: (s) => s.dangerousFaults, show: (s) => num(s.dangerousFaults), num: true },
];

export function ScorecardsPage(props: { route: Route }) {
  const q = props.route.query;
  const from = q.get('from') ?? '';
  const to = q.get('to') ?? '';
  const sort = q.get('sort') ?? 'passRate';
  const highlight = q.get('unit');
  const res = useApi<{ period: { from: string; to: string }; criteria: Criteria; items: Scorecard[] }>(`/api/v1/scorecards${qs({ from, to })}`);
  const [fromIn, setFrom] = useState(from);
  const [toIn, setTo] = useState(to);
  const rows = useMemo(() => {
    const items = res.data?.items ?? [];
    const desc = sort.startsWith('-');
    const col = COLS.find((c) => c.key === sort.replace(/^-/, '')) ?? COLS[2]!;
    return items.slice().sort((a, b) => {
      const va = col.value(a), vb = col.value(b);
      if (va === null && vb === null) return 0;
      if (va === null) return 1; // insufficient always last
      if (vb === null) return -1;
      const c = typeof va === 'string' ? va.localeCompare(String(vb), 'zh-CN') : (va as number) - (vb as number);
      return desc ? -c : c;
    });
  }, [res.data, sort]);
  const period = res.data?.period;
  const exp = (format: string) => `/api/v1/scorecards/export${qs({ from: period?.from, to: period?.to, format })}`;
  return (
    <div class="page" data-testid="page-scorecards">
      <div class="page-head">
        <h1>{t('scTitle')}</h1>
        <form class="filters" onSubmit={(e) => { e.preventDefault(); setQuery({ from: fromIn, to: toIn }); }}>
          <label class="field inline"><span>{t('scPeriod')}</span><input type="date" value={fromIn || period?.from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} data-testid="period-from" /></label>
          <label class="field inline"><span>—</span><input type="date" value={toIn || period?.to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} data-testid="period-to" /></label>
          <button class="btn small" type="submit">{t('search')}</button>
          <a class="btn small" href={exp('csv')} download data-testid="export-csv">{t('scExportCsv')}</a>
          <a class="btn small" href={exp('xlsx')} download data-testid="export-xlsx">{t('scExportXlsx')}</a>
        </form>
      </div>
      <Card>
        <Loaded data={res.data} error={res.error} reload={res.reload}>
          {(d) => (
            <>
              <div class="muted small pad-b">
                {t('scPeriod')} {d.period.from} — {d.period.to} · {t('scCriteria')}: {t('scPassRate')} &lt; {pct(d.criteria.passRateBelow, 0)} ({t('wMin')} {d.criteria.minInspections}) · {t('scComplaintRate')} ≥ {d.criteria.complaintRateAtLeast}/100
              </div>
              <table class="table" data-testid="scorecards-table">
                <thead>
                  <tr>{COLS.map((c) => (
                    <th key={c.key} class={`sortable${c.num ? ' num' : ''}`} onClick={() => setQuery({ sort: sort === c.key ? `-${c.key}` : c.key })} data-testid={`sort-${c.key}`}>
                      {c.label()}{sort === c.key ? ' ▲' : sort === `-${c.key}` ? ' ▼' : ''}
                    </th>
                  ))}</tr>
                </thead>
                <tbody>
                  {rows.map((s) => (
                    <tr key={s.unit} class={highlight === s.unit ? 'selected' : ''} data-testid={`scorecard-row-${s.unit}`}>
                      {COLS.map((c) => <td key={c.key} class={c.num ? 'num' : ''}>{c.show(s)}</td>)}
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </Loaded>
      </Card>
    </div>
  );
}
