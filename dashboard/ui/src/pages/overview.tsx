// 总览: equipment and online rate by district, open alerts by severity,
// today's entrapments with rescue timers, gas alarms, the current interview
// list, ingest health, and the district map (click to filter).
import { useMemo, useState } from 'preact/hooks';
import { alertType, districtName, getLang, reasonText, t } from '../i18n.js';
import { useApi, useTick } from '../hooks.js';
import { useLiveFrames, useLiveRefresh } from '../live.js';
import { href, setQuery, type Route } from '../router.js';
import { elapsed, num, pct, periodText, shortDateTime, timeOnly } from '../format.js';
import { qs } from '../api.js';
import { Card, Empty, Loaded, OnlineDot, SevBadge, StateBadge } from '../ui.js';
import { DistrictMap, type MapValue } from '../map/DistrictMap.js';
import { riskMapValues, type RiskLevel } from './risk.js';
import type { Alert, Entrapment, GasSiteRow, KpiNumbers, Overview, Paged } from '../types.js';

const SEVS = ['critical', 'major', 'minor', 'warning'] as const;
const ARRIVAL_LIMIT_MS = 30 * 60_000;

function sumKpi(rows: KpiNumbers[]): KpiNumbers {
  const z: KpiNumbers = {
    elevators: 0, elevatorsOnline: 0, elevatorsOffline: 0, elevatorsNeverSeen: 0, elevatorOnlineRate: null, elevatorsNotNormal: 0,
    gasSites: 0, gasSitesOnline: 0, gasSitesOffline: 0, gasSitesNeverSeen: 0, gasSiteOnlineRate: null,
    activeAlerts: 0, alertsBySeverity: { critical: 0, major: 0, minor: 0, warning: 0 }, unacknowledgedCritical: 0,
    entrapmentsToday: 0, entrapmentsActive: 0, overdueMaintenance: 0, overdueInspection: 0,
  };
  for (const r of rows) {
    for (const k of Object.keys(z) as (keyof KpiNumbers)[]) {
      if (k === 'alertsBySeverity') for (const s of SEVS) z.alertsBySeverity[s] += r.alertsBySeverity?.[s] ?? 0;
      else if (k !== 'elevatorOnlineRate' && k !== 'gasSiteOnlineRate') (z[k] as number) += (r[k] as number) ?? 0;
    }
  }
  z.elevatorOnlineRate = z.elevators ? z.elevatorsOnline / z.elevators : null;
  z.gasSiteOnlineRate = z.gasSites ? z.gasSitesOnline / z.gasSites : null;
  return z;
}

/** Green (all online) to red (under 80 %). */
function rateColor(r: number | null): string {
  if (r === null) return '#2a3448';
  const x = Math.max(0, Math.min(1, (r - 0.8) / 0.2));
  const hue = 0 + x * 130;
  return `hsl(${hue} 55% 34%)`;
}
function alertColor(n: number, max: number): string {
  if (!n) return 'hsl(215 22% 24%)';
  // few (muted amber-grey) → most (vivid red); no green, which would read as "fine"
  const x = Math.min(1, n / Math.max(1, max));
  return `hsl(${42 - x * 42} ${22 + x * 58}% ${27 + x * 9}%)`;
}

export function OverviewPage(props: { route: Route }) {
  const district = props.route.query.get('district');
  const mapParam = props.route.query.get('map');
  const mode = mapParam === 'online' || mapParam === 'risk' ? mapParam : 'alerts';
  const risk = useApi<Record<string, Record<RiskLevel, number>>>(mode === 'risk' ? '/api/v1/risk/districts' : null);
  const ov = useApi<Overview>('/api/v1/overview');
  const gas = useApi<Paged<Alert>>('/api/v1/alerts?type=gas_leak&state=active&pageSize=50');
  // what fills the space of a quiet city: the newest active alerts beside the district table (the daily
  // overdue ones are a count, not a feed), and each gas site's current reading when nothing alarms
  const recent = useApi<Paged<Alert>>(`/api/v1/alerts${qs({ state: 'active', category: 'event', sort: '-severity', district, pageSize: 6 })}`, { keep: true });
  const sites = useApi<Paged<GasSiteRow>>(`/api/v1/equipment/gas-sites${qs({ sort: '-maxLel', district, pageSize: 6 })}`, { keep: true });
  // kpi frames: one per district every 2 s; frames with the same `at` make one picture
  const [kpi, setKpi] = useState<{ at: number; rows: Map<string, KpiNumbers & { district: string }> } | null>(null);
  useLiveFrames((f) => {
    if (f.type !== 'kpi') return;
    const row = f as unknown as KpiNumbers & { district: string; at: number };
    setKpi((prev) => {
      const rows = prev && prev.at === row.at ? new Map(prev.rows) : new Map(prev?.rows ?? []);
      rows.set(row.district, row);
      return { at: row.at, rows };
    });
  });
  const polling = useLiveRefresh(['alert', 'case', 'reset'], () => (ov.reload(), gas.reload(), recent.reload()), 3000, ['kpi']);
  // gas readings and rescue stages (a unit arriving) change without alert frames: every 30 s as well
  useLiveRefresh(['kpi'], () => (sites.reload(), ov.reload()), 30_000);
  const now = useTick(1000);
  const lang = getLang();

  const districts = useMemo(() => {
    const base = new Map((ov.data?.districts ?? []).map((d) => [d.district, d]));
    if (kpi) for (const [d, r] of kpi.rows) base.set(d, { ...r, district: d });
    return [...base.values()].sort((a, b) => a.district.localeCompare(b.district, 'zh-CN'));
  }, [ov.data, kpi]);
  const shown = district ? districts.filter((d) => d.district === district) : districts;
  const totals = districts.length ? sumKpi(shown) : ov.data?.totals;
  const maxAlerts = Math.max(1, ...districts.map((d) => d.activeAlerts));
  const mapValues: Record<string, MapValue> = mode === 'risk' ? riskMapValues(risk.data) : {};
  if (mode !== 'risk') for (const d of districts) {
    mapValues[d.district] = mode === 'online'
      ? { color: rateColor(d.elevatorOnlineRate), label: pct(d.elevatorOnlineRate) }
      : { color: alertColor(d.activeAlerts, maxAlerts), label: String(d.activeAlerts) };
  }
  const entrapments = (ov.data?.entrapmentsToday ?? []).filter((e) => !district || e.district === district);
  const gasAlarms = (gas.data?.items ?? []).filter((a) => !district || a.district === district);

  return (
    <div class="page overview" data-testid="page-overview">
      <div class="page-head">
        <h1>{t('navOverview')}</h1>
        {district && (
          <span class="chip" data-testid="overview-filter">
            {t('ovFilter', { d: districtName(district) })}
            <button class="btn small ghost" onClick={() => setQuery({ district: null })}>{t('ovClearFilter')}</button>
          </span>
        )}
        <span class="muted small grow-right">
          {polling && <span class="polling" data-testid="polling">{t('connPolling')} · </span>}
          {ov.data && t('ovUpdated', { t: timeOnly(kpi?.at ?? ov.data.at) })}
        </span>
      </div>
      <Loaded data={ov.data} error={ov.error} reload={ov.reload}>
        {(data) => (
          <>
            {totals && <KpiTiles k={totals} gasAlarms={gasAlarms.length} district={district} />}
            <div class="grid two-one">
              <Card title={t('ovMap')} testid="overview-map" actions={
                <div class="seg">
                  <button class={`btn small ${mode === 'alerts' ? 'on' : ''}`} onClick={() => setQuery({ map: null })} data-testid="map-mode-alerts">{t('ovMapAlerts')}</button>
                  <button class={`btn small ${mode === 'online' ? 'on' : ''}`} onClick={() => setQuery({ map: 'online' })} data-testid="map-mode-online">{t('ovMapOnline')}</button>
                  <button class={`btn small ${mode === 'risk' ? 'on' : ''}`} onClick={() => setQuery({ map: 'risk' })} data-testid="map-mode-risk" title={t('riskMapHigh')}>{t('ovMapRisk')}</button>
                </div>
              }>
                <DistrictMap values={mapValues} selected={district} onSelect={(d) => setQuery({ district: d })} />
                <div class="muted small center">{t('ovMapHint')}</div>
              </Card>
              <Card title={t('ovEquipment')} testid="overview-districts">
                <table class="table compact">
                  <thead>
                    <tr><th>{t('district')}</th><th class="num">{t('ovElevators')}</th><th class="num">{t('ovOnlineRate')}</th><th class="num">{t('ovGasSites')}</th><th class="num">{t('ovOnlineRate')}</th><th class="num">{t('ovOpenAlerts')}</th></tr>
                  </thead>
                  <tbody>
                    {districts.map((d) => (
                      <tr key={d.district} class={`clickable${district === d.district ? ' selected' : ''}`} onClick={() => setQuery({ district: district === d.district ? null : d.district })} data-testid={`district-row-${d.district}`}>
                        <td>{districtName(d.district)}</td>
                        <td class="num">{num(d.elevatorsOnline)} / {num(d.elevators)}</td>
                        <td class="num"><RateBar r={d.elevatorOnlineRate} /></td>
                        <td class="num">{num(d.gasSitesOnline)} / {num(d.gasSites)}</td>
                        <td class="num"><RateBar r={d.gasSiteOnlineRate} /></td>
                        <td class="num"><a href={href('/alerts', { district: d.district, state: 'active' })} onClick={(e) => e.stopPropagation()}>{num(d.activeAlerts)}</a>{d.alertsBySeverity.critical > 0 && <span class="badge sev-critical tiny">{d.alertsBySeverity.critical}</span>}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <h3 class="sub">{t('ovRecentAlerts')}</h3>
                {(recent.data?.items ?? []).length === 0 ? <Empty text={t('ovNoRecentAlerts')} /> : (
                  <ul class="list compact-list" data-testid="overview-recent-alerts">
                    {recent.data!.items.map((a) => (
                      <li key={a.id} class={a.severity === 'critical' && a.state === 'open' ? 'crit' : ''} data-testid={`overview-alert-${a.id}`}>
                        <SevBadge s={a.severity} /> <a href={href('/alerts', { district: a.district, type: a.type })}>{alertType(a.type)}</a> · {a.subject}
                        <span class="muted small"> · {districtName(a.district)} · {shortDateTime(a.lastAt)} · <StateBadge s={a.state} /></span>
                      </li>
                    ))}
                  </ul>
                )}
              </Card>
            </div>
            <div class="grid three">
              <Card title={<>{t('ovEntrapments')} <span class="count">{entrapments.length}</span></>} testid="overview-entrapments">
                {entrapments.length === 0 ? <Empty text={t('ovNoEntrapments')} /> : (
                  <ul class="list">
                    {entrapments.map((e) => {
                      const v = entrapmentClock(e, now);
                      return (
                        <li key={e.alertId} class={`entrap${v.late ? ' late' : ''}${v.ended ? ' done' : ''}`} data-testid={`entrapment-${e.alertId}`} data-state={v.ended ? 'ended' : v.late ? 'late' : 'waiting'}>
                          <div class="row-between">
                            <a href={href(`/equipment/elevator/${e.elevator}`)}><strong>{e.elevator}</strong></a>
                            <span class={`timer${v.ended ? '' : ' live'}`} data-testid={`entrapment-timer-${e.alertId}`}>
                              {v.ended ? `${e.releasedAt !== null ? t('ovRescued') : t('ovEnded')} (${elapsed(v.trappedMs)})` : t('ovTrappedFor', { m: elapsed(v.trappedMs) })}
                            </span>
                          </div>
                          <div class="muted small">{districtName(e.district)} · {e.address}</div>
                          <div class="small">
                            {timeOnly(e.trappedAt)} · {e.arrivedAt !== null
                              ? <span class="ok">{t('ovArrived', { m: elapsed(e.arrivedAt - e.trappedAt) })}</span>
                              : v.ended ? <span class="muted">{t('ovNoArrival')}</span>
                              : v.late ? <span class="bad">{t('ovOverdue')} ({elapsed(v.waiting)})</span>
                              : <span class="warn">{t('ovNotArrived')} · {elapsed(v.waiting)} / 30:00</span>}
                          </div>
                          {!v.ended && e.arrivedAt === null && <div class="progress"><i style={{ width: `${Math.min(100, (v.waiting / ARRIVAL_LIMIT_MS) * 100)}%` }} class={v.late ? 'bad' : ''} /></div>}
                        </li>
                      );
                    })}
                  </ul>
                )}
              </Card>
              <Card title={<>{t('ovGasAlarms')} <span class="count">{gasAlarms.length}</span></>} testid="overview-gas">
                {gasAlarms.length === 0 ? (
                  <>
                    <Empty text={t('ovNoGasAlarms')} />
                    {(sites.data?.items ?? []).length > 0 && (
                      <>
                        <h3 class="sub">{t('ovGasReadings')}</h3>
                        <table class="table compact" data-testid="overview-gas-readings">
                          <tbody>{sites.data!.items.map((g) => (
                            <tr key={g.code} data-testid={`overview-gas-site-${g.code}`}>
                              <td><a href={href(`/equipment/gas-site/${g.code}`)}>{g.name}</a><div class="muted small">{districtName(g.district)}</div></td>
                              <td><OnlineDot online={g.online} /></td>
                              <td class="num">{g.maxLel === null ? '—' : `${g.maxLel} %LEL`}</td>
                            </tr>
                          ))}</tbody>
                        </table>
                      </>
                    )}
                  </>
                ) : (
                  <ul class="list">
                    {gasAlarms.map((a) => (
                      <li key={a.id} class={a.severity === 'critical' ? 'crit' : ''}>
                        <div class="row-between">
                          <a href={href(`/equipment/gas-site/${a.subject.split(':')[0]}`)}><strong>{a.subject}</strong></a>
                          <SevBadge s={a.severity} />
                        </div>
                        <div class="muted small">{districtName(a.district)} · {alertType(a.type)} · {shortDateTime(a.lastAt)} · <StateBadge s={a.state} /></div>
                      </li>
                    ))}
                  </ul>
                )}
              </Card>
              <div class="stack">
                <Card title={t('ovInterview')} testid="overview-interview" actions={data.interview && <a href={href('/interviews', { list: data.interview.listId })}>{t('details')} →</a>}>
                  {!data.interview ? <Empty text={t('ovNoInterview')} /> : (
                    <>
                      <div class="muted small">{periodText(data.interview.periodFrom, data.interview.periodTo)} · {t('ivVersion', { v: data.interview.version })} · {data.interview.units.length}</div>
                      <ol class="list compact-list unclipped" data-testid="overview-interview-units">
                        {data.interview.units.slice(0, 8).map((u) => (
                          <li key={u.unit} data-testid={`overview-interview-${u.unit}`}><a href={href('/interviews', { list: data.interview!.listId, unit: u.unit })}>{u.rank}. {u.name ?? u.unit}</a><div class="muted small ellipsis" title={u.reasons.map((r) => reasonText(r)).join(lang === 'en' ? '; ' : '；')}>{u.reasons.map((r) => reasonText(r)).join(lang === 'en' ? '; ' : '；')}</div></li>
                        ))}
                      </ol>
                      {data.interview.units.length > 8 && <div class="muted small">… +{data.interview.units.length - 8}</div>}
                    </>
                  )}
                </Card>
                <Card title={t('ovIngest')} testid="overview-ingest" actions={<a href={href('/ingest')}>{t('details')} →</a>}>
                  <div class="kv">
                    <span>{t('ovMsgRate')}</span><b>{data.ingest.messagesPerSec.toFixed(1)} /s</b>
                    <span>{t('ovInflux')}</span><b class={data.ingest.influxWriting ? 'ok' : 'bad'}>{data.ingest.influxWriting ? t('ovInfluxUp') : t('ovInfluxDown')}</b>
                    <span>{t('ovSpool')}</span><b class={data.ingest.spoolFull ? 'bad' : ''}>{num(data.ingest.spoolDepthMessages)}</b>
                  </div>
                </Card>
              </div>
            </div>
          </>
        )}
      </Loaded>
    </div>
  );
}

/**
 * An entrapment's clock on the card. It stops when the entrapment ends — passengers released, or the alert
 * resolved (cleared by the gateway, a false alarm, or by hand) — and only a running one without an arrival
 * turns red after the arrival limit: an ended entrapment is history, not an alarm.
 */
export function entrapmentClock(e: Entrapment, now: number): { ended: boolean; trappedMs: number; waiting: number; late: boolean } {
  const ended = e.releasedAt !== null || e.state === 'resolved';
  const endAt = ended ? (e.releasedAt ?? e.resolvedAt ?? e.trappedAt) : now;
  const waiting = (e.arrivedAt ?? endAt) - e.trappedAt;
  const late = !ended && e.arrivedAt === null && (waiting > ARRIVAL_LIMIT_MS || e.overdueArrival);
  return { ended, trappedMs: endAt - e.trappedAt, waiting, late };
}

function RateBar(props: { r: number | null }) {
  if (props.r === null) return <span class="muted">—</span>;
  return (
    <span class="ratebar" title={pct(props.r)}>
      <i style={{ width: `${props.r * 100}%`, background: rateColor(props.r) }} />
      <em>{pct(props.r)}</em>
    </span>
  );
}

function KpiTiles(props: { k: KpiNumbers; gasAlarms: number; district: string | null }) {
  const k = props.k;
  const q = props.district ? { district: props.district } : {};
  return (
    <div class="tiles" data-testid="kpi-tiles">
      <a class="tile" href={href('/equipment', q)} data-testid="kpi-elevators">
        <span class="tile-label">{t('ovElevators')} · {t('ovOnlineRate')}</span>
        <span class="tile-value">{pct(k.elevatorOnlineRate)}</span>
        <span class="tile-sub">{num(k.elevatorsOnline)} / {num(k.elevators)} {t('ovOnline')}</span>
      </a>
      <a class="tile" href={href('/equipment', { ...q, kind: 'gas' })} data-testid="kpi-gas-sites">
        <span class="tile-label">{t('ovGasSites')} · {t('ovOnlineRate')}</span>
        <span class="tile-value">{pct(k.gasSiteOnlineRate)}</span>
        <span class="tile-sub">{num(k.gasSitesOnline)} / {num(k.gasSites)} {t('ovOnline')}</span>
      </a>
      <a class={`tile${k.unacknowledgedCritical ? ' alarm' : ''}`} href={href('/alerts', { ...q, state: 'active' })} data-testid="kpi-alerts">
        <span class="tile-label">{t('ovOpenAlerts')}</span>
        <span class="tile-value">{num(k.activeAlerts)}</span>
        <span class="tile-sub sevs">
          {SEVS.map((s) => <span key={s} class={`sev-text-${s}`} data-testid={`kpi-sev-${s}`}><SevBadge s={s} /> {num(k.alertsBySeverity[s])}</span>)}
        </span>
      </a>
      <a class={`tile${k.entrapmentsActive ? ' alarm' : ''}`} href={href('/alerts', { ...q, type: 'entrapment' })} data-testid="kpi-entrapments">
        <span class="tile-label">{t('ovEntrapments')}</span>
        <span class="tile-value">{num(k.entrapmentsToday)}</span>
        <span class="tile-sub">{t('st_active')} {num(k.entrapmentsActive)}</span>
      </a>
      <a class={`tile${props.gasAlarms ? ' alarm' : ''}`} href={href('/alerts', { ...q, type: 'gas_leak', state: 'active' })} data-testid="kpi-gas-alarms">
        <span class="tile-label">{t('ovGasAlarms')}</span>
        <span class="tile-value">{num(props.gasAlarms)}</span>
        <span class="tile-sub">{t('st_active')}</span>
      </a>
      <a class="tile" href={href('/equipment', { ...q, overdue: 'any' })} data-testid="kpi-overdue">
        <span class="tile-label">{t('eqOverdue')}</span>
        <span class="tile-value">{num(k.overdueMaintenance + k.overdueInspection)}</span>
        <span class="tile-sub">{t('eqMaintOverdue')} {num(k.overdueMaintenance)} · {t('eqInspOverdue')} {num(k.overdueInspection)}</span>
      </a>
    </div>
  );
}
