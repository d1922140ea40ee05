// 维保单位: the maintenance-unit scorecards, sortable, with CSV/XLSX export,
// and each unit's quarterly trend: an inline SVG sparkline of the pass rate
// in the table, a chart of pass and complaint rates on click.
import type { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { qs } from '../api.js';
import { getLang, t } from '../i18n.js';
import { useApi } from '../hooks.js';
import { href, setQuery, type Route } from '../router.js';
import { addDays, num, pct, periodText } from '../format.js';
import { Card, Loaded, Modal } from '../ui.js';
import { Chart, CHART_AXIS, CHART_TEXT, valueAxis } from '../chart.js';
import type { Criteria, Scorecard, Trend, UnitTrend } from '../types.js';

// `show` marks a figure red against the list's own criteria, compared on the exact rate the API sends; only the text is rounded.
type Col = { key: string; label: () => string; value: (s: Scorecard) => number | string | null; show: (s: Scorecard, c: Criteria) => ComponentChildren; num?: boolean };

const insufficient = () => <span class="muted insufficient" data-testid="insufficient">{t('scInsufficient')}</span>;
const COLS: Col[] = [
  { key: 'name', label: () => t('unit'), value: (s) => s.name ?? s.unit, show: (s) => <><a href={href('/equipment', { unit: s.unit })}><b>{s.name ?? s.unit}</b></a> <span class="muted small">{s.unit}</span></> },
  { key: 'elevators', label: () => t('scElevators'), value: (s) => s.elevators, show: (s) => num(s.elevators), num: true },
  { key: 'passRate', label: () => t('scPassRate'), value: (s) => (s.inspections.insufficient ? null : s.inspections.passRate), num: true,
    show: (s, c) => (s.inspections.insufficient || s.inspections.passRate === null ? insufficient() : <span class={s.inspections.passRate < c.passRateBelow ? 'bad' : ''}>{pct(s.inspections.passRate)} <span class="muted small">({s.inspections.passed}/{s.inspections.first})</span></span>) },
  { key: 'complaintRate', label: () => t('scComplaintRate'), value: (s) => (s.complaints.insufficient ? null : s.complaints.rate), num: true,
    show: (s, c) => (s.complaints.insufficient || s.complaints.rate === null ? insufficient() : <span class={s.complaints.rate >= c.complaintRateAtLeast ? 'bad' : ''} data-testid="complaint-rate">{s.complaints.rate.toFixed(2)} <span class="muted small">({s.complaints.count})</span></span>) },
  { key: 'overdue', label: () => t('scOverdue'), value: (s) => s.maintenance.overdueElevatorDays, num: true,
    show: (s) => <>{num(s.maintenance.overdueEpisodes)} <span class="muted small">/ {num(Math.round(s.maintenance.overdueElevatorDays))} {t('wElevatorDays')}</span></> },
  { key: 'overdueInsp', label: () => t('eqInspOverdue'), value: (s) => s.overdueInspections.count, show: (s) => num(s.overdueInspections.count), num: true },
  { key: 'entrapments', label: () => t('scEntrapments'), value: (s) => s.entrapments.count, show: (s) => <>{num(s.entrapments.count)}{s.entrapments.per100 !== null && s.entrapments.count > 0 && <span class="muted small"> ({s.entrapments.per100.toFixed(1)}/100)</span>}</>, num: true },
  { key: 'arrival', label: () => t('scRescue'), value: (s) => s.entrapments.meanArrivalMin, num: true,
    show: (s) => (s.entrapments.meanArrivalMin === null ? <span class="muted">—</span> : <span class={s.entrapments.meanArrivalMin > 30 ? 'bad' : ''}>{t('minutes', { n: s.entrapments.meanArrivalMin.toFixed(1) })}</span>) },
  { key: 'dangerous', label: () => t('wDangerousFaults'), value: (s) => s.dangerousFaults, show: (s) => num(s.dangerousFaults), num: true },
  { key: 'hazards', label: () => t('scHazards'), value: (s) => s.hazards?.open ?? null, num: true,
    show: (s) => (!s.hazards ? <span class="muted">—</span> : <a href={href('/hazards', { unit: s.unit, state: 'open' })} data-testid={`sc-hazards-${s.unit}`}>{num(s.hazards.open)}{s.hazards.overdue > 0 && <span class="bad"> / {t('scHazardsOverdue', { n: s.hazards.overdue })}</span>}</a>) },
];

/** Quarters the trend covers, ending with the quarter of the period's end. */
const TREND_QUARTERS = 8;

/** Pass rate per quarter as a tiny SVG line on a 0–100 % scale: gaps where the sample is insufficient, a dot for a lone point, the listing threshold dashed. */
function Sparkline(props: { values: (number | null)[]; threshold: number }) {
  const w = 88, h = 24, pad = 3;
  const n = props.values.length;
  const x = (i: number) => pad + (n > 1 ? (i * (w - 2 * pad)) / (n - 1) : (w - 2 * pad) / 2);
  const y = (v: number) => pad + (1 - Math.min(1, Math.max(0, v))) * (h - 2 * pad);
  const runs: [number, number][][] = [];
  let run: [number, number][] = [];
  props.values.forEach((v, i) => {
    if (v === null) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push([x(i), y(v)]);
  });
  if (run.length) runs.push(run);
  const low = (py: number) => py > y(props.threshold);
  return (
    <svg class="sparkline" width={w} height={h} viewBox={`0 0 ${w} ${h}`} aria-hidden="true">
      <line x1={pad} x2={w - pad} y1={y(props.threshold)} y2={y(props.threshold)} stroke={CHART_AXIS} stroke-dasharray="2 2" stroke-width="1" />
      {runs.map((r, k) => (r.length === 1
        ? <circle key={k} cx={r[0]![0]} cy={r[0]![1]} r="2.5" fill={low(r[0]![1]) ? '#ff6b6b' : '#36c98e'} />
        : <polyline key={k} points={r.map((p) => p.join(',')).join(' ')} fill="none" stroke="#4ea1ff" stroke-width="1.5" stroke-linejoin="round" />))}
      {runs.length > 0 && (() => {
        const lastRun = runs[runs.length - 1]!;
        const [lx, ly] = lastRun[lastRun.length - 1]!;
        return lastRun.length > 1 ? <circle cx={lx} cy={ly} r="2.5" fill={low(ly) ? '#ff6b6b' : '#36c98e'} /> : null;
      })()}
    </svg>
  );
}

function TrendCell(props: { trend: UnitTrend | undefined; threshold: number; onOpen: () => void }) {
  if (!props.trend) return <span class="muted">—</span>;
  const values = props.trend.points.map((p) => p.passRate);
  const points = values.filter((v) => v !== null).length;
  return (
    <button type="button" class="trend-cell" onClick={props.onOpen} title={t('scTrendHint')} data-testid={`trend-${props.trend.unit}`} data-points={points}>
      <Sparkline values={values} threshold={props.threshold} />
    </button>
  );
}

function TrendModal(props: { trend: UnitTrend; criteria: Criteria; onClose: () => void }) {
  const { trend, criteria } = props;
  const option = useMemo(() => ({
    animation: false,
    tooltip: { trigger: 'axis', valueFormatter: (v: unknown) => (typeof v === 'number' ? v.toFixed(1) : '—') },
    grid: { left: 48, right: 56, top: 32, bottom: 28 },
    legend: { top: 0, textStyle: { color: CHART_TEXT } },
    xAxis: { type: 'category', data: trend.points.map((p) => p.quarter), axisLine: { lineStyle: { color: CHART_AXIS } }, axisLabel: { color: CHART_TEXT } },
    yAxis: [{ ...valueAxis('%'), min: 0, max: 100 }, { ...valueAxis('/100'), min: 0, splitLine: { show: false } }],
    series: [
      {
        name: t('scPassRate'), type: 'line', connectNulls: false, symbolSize: 7, color: '#4ea1ff', data: trend.points.map((p) => (p.passRate === null ? null : Math.round(p.passRate * 1000) / 10)),
        markLine: { silent: true, symbol: 'none', lineStyle: { type: 'dashed', color: '#ff6b6b' }, label: { color: CHART_TEXT, formatter: `${Math.round(criteria.passRateBelow * 100)}%` }, data: [{ yAxis: criteria.passRateBelow * 100 }] },
      },
      { name: t('scTrendComplaintRate'), type: 'line', connectNulls: false, color: '#f0b429', yAxisIndex: 1, symbolSize: 5, data: trend.points.map((p) => p.complaintRate) },
    ],
  }), [trend, criteria]);
  const points = trend.points.reduce((n, p) => n + (p.passRate !== null ? 1 : 0) + (p.complaintRate !== null ? 1 : 0), 0);
  return (
    <Modal title={t('scTrendTitle', { unit: trend.name ?? trend.unit })} onClose={props.onClose} testid="trend-modal">
      <Chart option={option} testid="trend-chart" points={points} height={260} />
      <div class="muted small pad-b">{t('scTrendNote', { n: criteria.minInspections })}</div>
      <table class="table" data-testid="trend-table">
        <thead><tr><th>{t('scTrendQuarter')}</th><th class="num">{t('scTrendFirst')}</th><th class="num">{t('scTrendPassed')}</th><th class="num">{t('scPassRate')}</th><th class="num">{t('scTrendComplaints')}</th><th class="num">{t('scTrendComplaintRate')}</th></tr></thead>
        <tbody>
          {trend.points.map((p) => (
            <tr key={p.quarter}>
              <td>{p.quarter}</td>
              <td class="num">{num(p.first)}</td>
              <td class="num">{num(p.passed)}</td>
              <td class="num">{p.passRate === null ? (p.first > 0 ? insufficient() : <span class="muted">—</span>) : <span class={p.passRate < criteria.passRateBelow ? 'bad' : ''}>{pct(p.passRate)}</span>}</td>
              <td class="num">{num(p.complaints)}</td>
              <td class="num">{p.complaintRate === null ? <span class="muted">—</span> : <span class={p.complaintRate >= criteria.complaintRateAtLeast ? 'bad' : ''}>{p.complaintRate.toFixed(2)}</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}

export function ScorecardsPage(props: { route: Route }) {
  const q = props.route.query;
  const from = q.get('from') ?? '';
  const to = q.get('to') ?? '';
  const sort = q.get('sort') ?? 'passRate';
  const highlight = q.get('unit');
  const res = useApi<{ period: { from: string; to: string }; criteria: Criteria; items: Scorecard[] }>(`/api/v1/scorecards${qs({ from, to })}`);
  // The trend ends with the quarter of the period shown (its `to` is exclusive).
  const trendRes = useApi<Trend>(res.data ? `/api/v1/scorecards/trend${qs({ to: res.data.period.to, quarters: TREND_QUARTERS })}` : null);
  const trends = useMemo(() => new Map((trendRes.data?.items ?? []).map((i) => [i.unit, i])), [trendRes.data]);
  const [trendOf, setTrendOf] = useState<string | null>(null);
  const [fromIn, setFrom] = useState(from);
  // the API's `to` is exclusive; people pick and read the last day of the period
  const [toIn, setTo] = useState(to ? addDays(to, -1) : '');
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
        <form class="filters" onSubmit={(e) => { e.preventDefault(); setQuery({ from: fromIn, to: toIn ? addDays(toIn, 1) : '' }); }}>
          <label class="field inline"><span>{t('scPeriod')}</span><input type="date" value={fromIn || period?.from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} data-testid="period-from" /></label>
          <label class="field inline"><span>—</span><input type="date" value={toIn || (period && addDays(period.to, -1))} onInput={(e) => setTo((e.target as HTMLInputElement).value)} data-testid="period-to" /></label>
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
                {t('scPeriod')} <span data-testid="scorecard-period">{periodText(d.period.from, d.period.to)}</span> · {t('scCriteria')}: {t('scPassRate')} &lt; {pct(d.criteria.passRateBelow, 0)} ({t('wMin')} {d.criteria.minInspections}) · {t('scComplaintRate')} ≥ {d.criteria.complaintRateAtLeast}/100
              </div>
              <table class="table" data-testid="scorecards-table">
                <thead>
                  <tr>{COLS.map((c) => (
                    <th key={c.key} class={`sortable${c.num ? ' num' : ''}`} onClick={() => setQuery({ sort: sort === c.key ? `-${c.key}` : c.key })} data-testid={`sort-${c.key}`}>
                      {c.label()}{sort === c.key ? ' ▲' : sort === `-${c.key}` ? ' ▼' : ''}
                    </th>
                  ))}<th data-testid="col-trend">{t('scTrend')} <span class="muted small">{trendRes.data ? `${trendRes.data.quarters[0]}–${trendRes.data.quarters[trendRes.data.quarters.length - 1]}` : ''}</span></th></tr>
                </thead>
                <tbody>
                  {rows.map((s) => (
                    <tr key={s.unit} class={highlight === s.unit ? 'selected' : ''} data-testid={`scorecard-row-${s.unit}`}>
                      {COLS.map((c) => <td key={c.key} class={c.num ? 'num' : ''}>{c.show(s, d.criteria)}</td>)}
                      <td><TrendCell trend={trends.get(s.unit)} threshold={d.criteria.passRateBelow} onOpen={() => setTrendOf(s.unit)} /></td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {trendOf && trends.get(trendOf) && <TrendModal trend={trends.get(trendOf)!} criteria={d.criteria} onClose={() => setTrendOf(null)} />}
            </>
          )}
        </Loaded>
      </Card>
    </div>
  );
}
