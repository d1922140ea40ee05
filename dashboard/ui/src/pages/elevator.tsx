// One elevator: registry data, current state, overdue flags, open alerts,
// time-series charts (floor, run count, door cycles), recent events,
// maintenance and inspection history.
import { Fragment } from 'preact';
import { useEffect, useMemo, useRef } from 'preact/hooks';
import { alertType, districtName, label, t, term, type Key } from '../i18n.js';
import { useApi, useTick } from '../hooks.js';
import { useLiveRefresh } from '../live.js';
import { href, setQuery, type Route } from '../router.js';
import { dateOnly, dateTime, shortDateTime, elapsed } from '../format.js';
import { Card, Empty, Loaded, OnlineDot, SevBadge, StateBadge } from '../ui.js';
import { Chart, CHART_TEXT, cst, valueAxis, windowAxis } from '../chart.js';
import { ElevatorRiskLine } from './risk.js';
import type { ElevatorDetailT, ElevatorSeries } from '../types.js';
import { canWrite } from '../session.js';

export const RANGES: Record<string, number> = { '6h': 6 * 3600_000, '24h': 24 * 3600_000, '7d': 7 * 86400_000, '30d': 30 * 86400_000 };

export function RangePicker(props: { value: string }) {
  return (
    <div class="seg" data-testid="range-picker">
      {Object.keys(RANGES).map((r) => (
        <button key={r} class={`btn small ${props.value === r ? 'on' : ''}`} onClick={() => setQuery({ range: r })} data-testid={`range-${r}`}>{t(`range_${r}` as Key)}</button>
      ))}
    </div>
  );
}

/**
 * A stable [from, to] for the range, ending at the next whole minute and moving on by itself once a
 * minute: an open page keeps showing the last 6 hours (…) without a click.
 */
export function useRangeWindow(range: string): { from: number; to: number } {
  const minute = Math.floor(useTick(60_000) / 60_000);
  return useMemo(() => {
    const to = (minute + 1) * 60_000;
    return { from: to - (RANGES[range] ?? RANGES['24h']!), to };
  }, [range, minute]);
}

/** Calls `reload` each time the window moves on (not when it is first set). */
export function useReloadAsWindowMoves(win: { to: number }, reload: () => void): void {
  const first = useRef(win.to);
  useEffect(() => {
    if (win.to !== first.current) reload();
  }, [win.to]);
}

const STATUS_FIELDS = ['serviceMode', 'floor', 'carStatus', 'direction', 'doorStatus', 'doorZone', 'passengers', 'speed', 'load', 'runCount', 'doorCycles', 'runHours'];
const STATUS_KEYS: Record<string, Key> = { serviceMode: 'eqServiceMode', floor: 'eqFloor', runCount: 'seriesRuns', doorCycles: 'seriesDoors' };

export function ElevatorDetail(props: { code: string; route: Route }) {
  const range = props.route.query.get('range') ?? '24h';
  const win = useRangeWindow(range);
  const res = useApi<ElevatorDetailT>(`/api/v1/equipment/elevators/${encodeURIComponent(props.code)}`);
  const series = useApi<ElevatorSeries>(`/api/v1/equipment/elevators/${encodeURIComponent(props.code)}/series?from=${win.from}&to=${win.to}`, { keep: true });
  useLiveRefresh(['alert'], res.reload, 3000, ['kpi', 'equipment']);
  useReloadAsWindowMoves(win, res.reload); // the state card (floor, counters) changes without any frame
  return (
    <div class="page" data-testid="page-elevator">
      <div class="page-head">
        <a class="btn small ghost" href={href('/equipment')}>← {t('back')}</a>
        <h1>{t('eqElevator')} {props.code}</h1>
      </div>
      <Loaded data={res.data} error={res.error} reload={res.reload}>
        {(d) => (
          <>
            <div class="grid three">
              <Card title={t('eqRegistry')} testid="elevator-registry">
                <div class="kv">
                  <span>{t('code')}</span><b>{d.elevator.code}</b>
                  <span>{t('district')}</span><b>{districtName(d.elevator.district)}</b>
                  <span>{t('address')}</span><b>{d.elevator.address}</b>
                  <span>{t('wOwner')}</span><b>{d.elevator.userUnit ?? '—'}</b>
                  <span>{t('unit')}</span><b>{d.elevator.maintenanceUnit ? <a href={href('/scorecards', { unit: d.elevator.maintenanceUnit })}>{d.elevator.maintenanceUnitName ?? d.elevator.maintenanceUnit}</a> : '—'}</b>
                  <span>{t('wNextInspection')}</span><b>{d.elevator.nextInspectionDue ?? '—'}</b>
                  <span>{t('wMaintenanceInterval')}</span><b>{d.elevator.maintenanceIntervalDays ?? '—'} {t('wDays')}</b>
                </div>
                <p class="muted" data-testid="elevator-public-links">
                  <a href={`/e/${encodeURIComponent(d.elevator.code)}`} target="_blank" rel="noopener">{t('pubPage')}</a>
                  {canWrite() && <> · <a href={`/api/v1/public-labels/elevators/${encodeURIComponent(d.elevator.code)}`} target="_blank" rel="noopener" data-testid="elevator-qr-label">{t('pubLabel')}</a>
                    {' · '}<a href={`/api/v1/public-labels/buildings?address=${encodeURIComponent(d.elevator.address)}`} target="_blank" rel="noopener">{t('pubBuildingLabels')}</a></>}
                </p>
              </Card>
              <Card title={t('eqCurrent')} testid="elevator-state">
                <div class="kv">
                  <span>{t('state')}</span><b><OnlineDot online={d.state.online} /></b>
                  <span>{t('eqLastSeen')}</span><b>{dateTime(d.state.lastSeenAt)}</b>
                  {d.state.status && STATUS_FIELDS.filter((k) => d.state.status![k] !== undefined && d.state.status![k] !== null).map((k) => (
                    <Fragment key={k}>
                      <span>{k in STATUS_KEYS ? t(STATUS_KEYS[k]!) : label(k)}</span>
                      <b>{term(d.state.status![k])}</b>
                    </Fragment>
                  ))}
                </div>
              </Card>
              <Card title={t('eqOverdue')} testid="elevator-overdue">
                <div class="kv">
                  <span>{t('eqMaintOverdue')}</span>
                  <b class={d.overdue.maintenance.overdue ? 'bad' : 'ok'} data-testid="overdue-maintenance">{d.overdue.maintenance.overdue ? t('yes') : t('no')}{d.overdue.maintenance.lastRoutineAt ? ` · ${t('wLast')} ${dateOnly(d.overdue.maintenance.lastRoutineAt)}` : ''}</b>
                  <span>{t('eqInspOverdue')}</span>
                  <b class={d.overdue.inspection.overdue ? 'bad' : 'ok'} data-testid="overdue-inspection">{d.overdue.inspection.overdue ? t('yes') : t('no')}{d.overdue.inspection.nextInspectionDue ? ` · ${t('wDue')} ${d.overdue.inspection.nextInspectionDue}` : ''}</b>
                  <span>{t('riskLevel')}</span><b><ElevatorRiskLine code={d.elevator.code} /></b>
                </div>
                <h3>{t('eqOpenAlerts')}</h3>
                {d.openAlerts.length === 0 ? <Empty text={t('none')} /> : (
                  <ul class="list">
                    {d.openAlerts.map((a) => (
                      <li key={a.id}><SevBadge s={a.severity} /> <a href={href('/alerts', { type: a.type, state: 'active' })}>{alertType(a.type)}</a> · {shortDateTime(a.firstAt)} · <StateBadge s={a.state} /></li>
                    ))}
                  </ul>
                )}
              </Card>
            </div>
            <Card title={t('eqCharts')} actions={<RangePicker value={range} />} testid="elevator-charts">
              <Loaded data={series.data} error={series.error} reload={series.reload}>
                {(s) => (s.points.length === 0 ? <Empty text={t('eqNoSeries')} /> : <ElevatorCharts s={s} />)}
              </Loaded>
            </Card>
            <div class="grid two">
              <Card title={t('eqRecentEvents')} testid="elevator-events">
                {d.recentEvents.length === 0 ? <Empty /> : (
                  <table class="table compact">
                    <thead><tr><th>{t('time')}</th><th>{t('type')}</th><th>{t('state')}</th><th class="num">{t('eqFloor')}</th></tr></thead>
                    <tbody>{d.recentEvents.map((e) => <tr key={e.id + e.at}><td>{dateTime(e.at)}</td><td>{alertType(e.type)}</td><td>{term(e.state)}</td><td class="num">{e.floor ?? '—'}</td></tr>)}</tbody>
                  </table>
                )}
                {d.entrapments.length > 0 && (
                  <>
                    <h3>{t('ovEntrapments')}</h3>
                    <table class="table compact">
                      <thead><tr><th>{t('time')}</th><th>{label('arrivedAt')}</th><th>{label('releasedAt')}</th><th>{t('state')}</th></tr></thead>
                      <tbody>{d.entrapments.map((e) => (
                        <tr key={e.alertId}><td>{dateTime(e.trappedAt)}</td><td>{e.arrivedAt ? elapsed(e.arrivedAt - e.trappedAt) : '—'}</td><td>{e.releasedAt ? elapsed(e.releasedAt - e.trappedAt) : '—'}</td><td><StateBadge s={e.state} /></td></tr>
                      ))}</tbody>
                    </table>
                  </>
                )}
              </Card>
              <div class="stack">
                <Card title={t('eqMaintenance')} testid="elevator-maintenance">
                  {d.maintenance.length === 0 ? <Empty /> : (
                    <div class="scroll-y">
                      <table class="table compact">
                        <thead><tr><th>{t('time')}</th><th>{t('type')}</th><th>{t('unit')}</th></tr></thead>
                        <tbody>{d.maintenance.map((m) => <tr key={m.id} data-testid={`maintenance-${m.id}`}><td>{dateTime(m.at)}</td><td>{term(m.kind)}</td><td title={m.unit ?? ''}>{m.unitName ?? m.unit ?? '—'}</td></tr>)}</tbody>
                      </table>
                    </div>
                  )}
                </Card>
                <Card title={t('eqInspections')} testid="elevator-inspections">
                  {d.inspections.length === 0 ? <Empty /> : (
                    <div class="scroll-y">
                      <table class="table compact">
                        <thead><tr><th>{t('time')}</th><th>{t('type')}</th><th>{t('ihResult')}</th><th>{t('wInstitution')}</th><th>{t('wNextDue')}</th></tr></thead>
                        <tbody>{d.inspections.map((i) => <tr key={i.id}><td>{dateOnly(i.at)}</td><td>{term(i.kind)}{i.attempt > 1 ? ` #${i.attempt}` : ''}</td><td class={i.result === 'fail' ? 'bad' : 'ok'}>{term(i.result)}</td><td>{i.institution ?? '—'}</td><td>{i.nextDue ?? '—'}</td></tr>)}</tbody>
                      </table>
                    </div>
                  )}
                </Card>
              </div>
            </div>
          </>
        )}
      </Loaded>
    </div>
  );
}


/** A time-series chart option: axis tooltip, legend on top, time on x. */
const timeChart = (s: { from: number; to: number }, grid: object, yAxis: object, series: object[]) => ({
  tooltip: { trigger: 'axis' },
  grid,
  legend: { top: 0, textStyle: { color: CHART_TEXT } },
  xAxis: windowAxis(s.from, s.to),
  yAxis,
  series,
});

function ElevatorCharts(props: { s: ElevatorSeries }) {
  const p = props.s.points;
  const grid = { left: 48, right: 16, top: 32, bottom: 28 };
  const at = (v: (x: (typeof p)[number]) => number | null) => p.map((x) => [cst(x.t), v(x)]);
  const floorOpt = useMemo(() => timeChart(props.s, grid, { ...valueAxis(), minInterval: 1 }, [
    { name: t('seriesFloor'), type: 'line', step: 'end', showSymbol: false, data: at((x) => x.floor), lineStyle: { width: 1.5 }, color: '#4ea1ff' },
    { name: t('seriesFloorMax'), type: 'line', showSymbol: false, data: at((x) => x.floorMax), lineStyle: { width: 0.5, opacity: 0.4 }, color: '#4ea1ff' },
  ]), [props.s]);
  const countOpt = useMemo(() => timeChart(props.s, { ...grid, right: 56 }, [{ ...valueAxis(), scale: true, minInterval: 1 }, { ...valueAxis(), scale: true, minInterval: 1, splitLine: { show: false } }], [
    { name: t('seriesRuns'), type: 'line', showSymbol: false, data: at((x) => x.runCount), color: '#36c98e' },
    { name: t('seriesDoors'), type: 'line', showSymbol: false, data: at((x) => x.doorCycles), color: '#f0b429', yAxisIndex: 1 },
  ]), [props.s]);
  const tripsOpt = useMemo(() => timeChart(props.s, grid, { ...valueAxis(), minInterval: 1 }, [
    { name: t('seriesTrips'), type: 'bar', data: at((x) => x.trips), color: '#8a7dff' },
  ]), [props.s]);
  return (
    <div class="grid three charts">
      <Chart option={floorOpt} testid="chart-floor" points={p.length} />
      <Chart option={countOpt} testid="chart-counters" points={p.length} />
      <Chart option={tripsOpt} testid="chart-trips" points={p.length} />
    </div>
  );
}
