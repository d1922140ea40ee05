// One gas-cylinder site: detectors with their latest %LEL, a %LEL chart per
// detector with the alarm thresholds, open alerts, the filling log with
// violations highlighted.
import { useMemo } from 'preact/hooks';
import { qs } from '../api.js';
import { alertType, districtName, t, term } from '../i18n.js';
import { useApi } from '../hooks.js';
import { useLiveRefresh } from '../live.js';
import { href, setQuery, type Route } from '../router.js';
import { dateTime, shortDateTime } from '../format.js';
import { Card, Empty, Loaded, OnlineDot, Pager, SevBadge, StateBadge } from '../ui.js';
import { Chart, cst, valueAxis, windowAxis } from '../chart.js';
import { RangePicker, useRangeWindow, useReloadAsWindowMoves } from './elevator.js';
import type { Filling, GasSeries, GasSiteDetailT, Paged } from '../types.js';

const COLORS = ['#4ea1ff', '#36c98e', '#f0b429', '#ff7a59', '#b37feb', '#5cdbd3', '#ff85c0', '#d3f261'];

export function GasSiteDetail(props: { code: string; route: Route }) {
  const q = props.route.query;
  const range = q.get('range') ?? '24h';
  const win = useRangeWindow(range);
  const violations = q.get('violations') === 'true';
  const fpage = Number(q.get('fpage') ?? 1) || 1;
  const base = `/api/v1/equipment/gas-sites/${encodeURIComponent(props.code)}`;
  const res = useApi<GasSiteDetailT>(base);
  const series = useApi<GasSeries>(`${base}/series?from=${win.from}&to=${win.to}`, { keep: true });
  const fills = useApi<Paged<Filling>>(`${base}/fillings${qs({ violations: violations ? 'true' : null, page: fpage, pageSize: 20 })}`);
  useLiveRefresh(['alert'], () => (res.reload(), fills.reload()), 3000, ['kpi', 'equipment']);
  useReloadAsWindowMoves(win, () => (res.reload(), fills.reload())); // detector readings and fillings arrive without frames
  return (
    <div class="page" data-testid="page-gas-site">
      <div class="page-head">
        <a class="btn small ghost" href={href('/equipment', { kind: 'gas' })}>← {t('back')}</a>
        <h1>{t('eqGasSite')} {props.code}{res.data ? ` · ${res.data.site.name}` : ''}</h1>
      </div>
      <Loaded data={res.data} error={res.error} reload={res.reload}>
        {(d) => (
          <>
            <div class="grid three">
              <Card title={t('eqRegistry')}>
                <div class="kv">
                  <span>{t('code')}</span><b>{d.site.code}</b>
                  <span>{t('name')}</span><b>{d.site.name}</b>
                  <span>{t('district')}</span><b>{districtName(d.site.district)}</b>
                  <span>{t('address')}</span><b>{d.site.address}</b>
                  <span>{t('type')}</span><b>{term(d.site.kind)}</b>
                  <span>{t('state')}</span><b><OnlineDot online={d.state.online} /></b>
                  <span>{t('eqLastSeen')}</span><b>{dateTime(d.state.lastSeenAt)}</b>
                  <span>{t('wThresholds')}</span><b>{d.thresholds.level1} / {d.thresholds.level2} %LEL</b>
                </div>
              </Card>
              <Card title={t('eqDetectors')} testid="gas-detectors">
                {d.detectors.length === 0 ? <Empty /> : (
                  <table class="table compact">
                    <thead><tr><th>{t('eqDetector')}</th><th class="num">{t('eqLel')}</th><th>{t('wGas')}</th><th>{t('time')}</th></tr></thead>
                    <tbody>{d.detectors.map((x) => (
                      <tr key={x.detector} class={x.level >= 2 ? 'lvl2' : x.level === 1 ? 'lvl1' : ''} data-testid={`detector-${x.detector}`}>
                        <td>{x.detector}</td>
                        <td class={`num${x.level >= 2 ? ' bad' : x.level === 1 ? ' warn' : ''}`}><b>{x.lel ?? '—'}</b></td>
                        <td>{x.gas ?? '—'}</td>
                        <td>{shortDateTime(x.at)}</td>
                      </tr>
                    ))}</tbody>
                  </table>
                )}
              </Card>
              <Card title={t('eqOpenAlerts')}>
                {d.openAlerts.length === 0 ? <Empty text={t('none')} /> : (
                  <ul class="list">{d.openAlerts.map((a) => (
                    <li key={a.id} class={a.severity === 'critical' ? 'crit' : ''}><SevBadge s={a.severity} /> {alertType(a.type)} · {a.subject} · {shortDateTime(a.lastAt)} · <StateBadge s={a.state} /></li>
                  ))}</ul>
                )}
              </Card>
            </div>
            <Card title={`${t('eqCharts')} · %LEL`} actions={<RangePicker value={range} />} testid="gas-chart">
              <Loaded data={series.data} error={series.error} reload={series.reload}>
                {(s) => (s.detectors.every((x) => x.points.length === 0) ? <Empty text={t('eqNoSeries')} /> : <LelChart s={s} l1={d.thresholds.level1} l2={d.thresholds.level2} />)}
              </Loaded>
            </Card>
          </>
        )}
      </Loaded>
      <Card title={t('eqFillings')} testid="gas-fillings" actions={
        <label class="field inline check">
          <input type="checkbox" checked={violations} onChange={() => setQuery({ violations: violations ? null : 'true', fpage: null })} data-testid="violations-only" />
          <span>{t('eqViolationsOnly')}</span>
        </label>
      }>
        <Loaded data={fills.data} error={fills.error} reload={fills.reload}>
          {(f) => (
            <>
              <table class="table compact">
                <thead><tr><th>{t('time')}</th><th>{t('eqCylinder')}</th><th>{t('eqMedium')}</th><th class="num">kg</th><th>{t('wNextInspection')}</th><th>{t('wScrapDate')}</th><th>{t('wStation')}</th><th>{t('eqOperator')}</th><th /></tr></thead>
                <tbody>
                  {f.items.length === 0 && <tr><td colSpan={9} class="muted center">{t('empty')}</td></tr>}
                  {f.items.map((x) => (
                    <tr key={x.id} class={x.violation ? 'violation' : ''} data-testid={`filling-${x.id}`}>
                      <td>{dateTime(x.at)}</td><td>{x.cylinder}</td><td>{x.medium}</td><td class="num">{x.netKg ?? '—'}</td>
                      <td class={x.inspectionOverdue ? 'bad' : ''}>{x.nextInspectionDue ?? '—'}</td>
                      <td class={x.scrapOverdue ? 'bad' : ''}>{x.scrapDue ?? '—'}</td>
                      <td>{x.station ?? '—'}</td><td>{x.operator ?? '—'}</td>
                      <td>{x.violation && <span class="badge sev-critical">{t('eqViolation')}</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager page={fpage} pageSize={20} total={f.total} onPage={(p) => setQuery({ fpage: p })} testid="fillings-pager" />
            </>
          )}
        </Loaded>
      </Card>
    </div>
  );
}

function LelChart(props: { s: GasSeries; l1: number; l2: number }) {
  const opt = useMemo(() => ({
    tooltip: { trigger: 'axis' },
    grid: { left: 48, right: 24, top: 36, bottom: 56 },
    legend: { top: 0, textStyle: { color: '#c9d4e3' }, type: 'scroll' },
    xAxis: windowAxis(props.s.from, props.s.to),
    yAxis: { ...valueAxis('%LEL'), min: 0, max: (v: { max: number }) => Math.max(props.l2 * 1.2, Math.ceil(v.max * 1.1)) },
    dataZoom: [{ type: 'inside' }, { type: 'slider', height: 16, bottom: 8, textStyle: { color: '#c9d4e3' } }],
    series: props.s.detectors.map((d, i) => ({
      name: d.detector, type: 'line', showSymbol: false, data: d.points.map((p) => [cst(p.t), p.lelMax ?? p.lel]), color: COLORS[i % COLORS.length],
      ...(i === 0 ? {
        markLine: {
          symbol: 'none', silent: true,
          data: [
            { yAxis: props.l1, lineStyle: { color: '#f0b429', type: 'dashed' }, label: { formatter: `${t('sev_major')} ${props.l1}`, color: '#f0b429', position: 'insideEndTop' } },
            { yAxis: props.l2, lineStyle: { color: '#ff4d4f', type: 'dashed' }, label: { formatter: `${t('sev_critical')} ${props.l2}`, color: '#ff4d4f', position: 'insideEndTop' } },
          ],
        },
      } : {}),
    })),
  }), [props.s, props.l1, props.l2]);
  return <Chart option={opt} height={280} testid="chart-lel" points={props.s.detectors.reduce((n, d) => n + d.points.length, 0)} />;
}
