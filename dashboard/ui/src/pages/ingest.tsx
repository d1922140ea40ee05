// 接入健康: message rates, dead letters by reason with excerpts, spool depth,
// InfluxDB state, scheduled rules and their run history.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, qs } from '../api.js';
import { codeName, cronText, getLang, t, term } from '../i18n.js';
import { useApi } from '../hooks.js';
import { useLiveRefresh } from '../live.js';
import { bytes, dateTime, num, pct, shortDateTime } from '../format.js';
import { Card, Empty, Loaded } from '../ui.js';
import { Chart, cst, valueAxis, windowAxis } from '../chart.js';
import type { IngestHealth, RatePoint } from '../types.js';

/** The chart's window: the last hour, which the server keeps (GET /api/v1/ingest/rates). */
const WINDOW_MS = 3600_000;

/** The rates of the last hour: the server's history on arrival, then what is new at each refresh. */
function useRateHistory(): { points: RatePoint[]; pull: () => void } {
  const [points, setPoints] = useState<RatePoint[]>([]);
  const last = useRef(0);
  const pull = () => {
    api<{ points: RatePoint[] }>(`/api/v1/ingest/rates${qs({ since: last.current || null })}`).then((r) => {
      const newest = r.points.at(-1);
      if (!newest) return;
      last.current = newest.at;
      setPoints((prev) => [...prev, ...r.points].filter((p) => p.at > newest.at - WINDOW_MS));
    }, () => undefined); // the health card shows the error; the chart keeps what it has
  };
  useEffect(pull, []);
  return { points, pull };
}

export function IngestPage() {
  const res = useApi<IngestHealth>('/api/v1/ingest/health');
  const hist = useRateHistory();
  useLiveRefresh(['kpi'], () => (res.reload(), hist.pull()), 5000);
  const d = res.data;
  const en = getLang() === 'en';
  const newest = hist.points.at(-1)?.at ?? d?.at ?? 0;
  const opt = useMemo(() => ({
    tooltip: { trigger: 'axis' },
    grid: { left: 48, right: 16, top: 32, bottom: 24 },
    legend: { top: 0, textStyle: { color: '#c9d4e3' } },
    xAxis: windowAxis(newest - WINDOW_MS, newest),
    yAxis: valueAxis('/s'),
    series: [
      { name: t('wReceived'), type: 'line', showSymbol: false, data: hist.points.map((h) => [cst(h.at), h.messagesPerSec]), color: '#4ea1ff' },
      { name: t('wStored'), type: 'line', showSymbol: false, data: hist.points.map((h) => [cst(h.at), h.storedPerSec]), color: '#36c98e' },
      { name: t('ovDeadLetters'), type: 'line', showSymbol: false, data: hist.points.map((h) => [cst(h.at), h.deadLettersPerSec]), color: '#ff7a59' },
    ],
  }), [hist.points, en]);
  return (
    <div class="page" data-testid="page-ingest">
      <div class="page-head"><h1>{t('ihTitle')}</h1></div>
      <Loaded data={res.data} error={res.error} reload={res.reload}>
        {(h) => (
          <>
            <div class="tiles">
              <div class="tile" data-testid="ingest-rate"><span class="tile-label">{t('ihRates')}</span><span class="tile-value">{h.rates.messagesPerSec.toFixed(1)}<small>/s</small></span>
                <span class="tile-sub">{Object.entries(h.rates.byChannel).map(([k, v]) => `${codeName(k)} ${v.toFixed(1)}`).join(' · ')}</span></div>
              <div class="tile"><span class="tile-label">{t('wStored2')}</span><span class="tile-value">{h.rates.storedPerSec.toFixed(1)}<small>/s</small></span>
                <span class="tile-sub">{t('wTotal')} {num(h.totals.stored)} · {t('wDuplicates')} {num(h.totals.duplicates)}</span></div>
              <div class={`tile${h.deadLetters.total ? ' warn' : ''}`} data-testid="ingest-dead-letters"><span class="tile-label">{t('ovDeadLetters')}</span><span class="tile-value">{num(h.deadLetters.total)}</span>
                <span class="tile-sub">{h.rates.deadLettersPerSec.toFixed(2)}/s · {t('wRefusals')} {num(h.totals.refusals)}</span></div>
              <div class={`tile${h.spool.full ? ' alarm' : ''}`} data-testid="ingest-spool"><span class="tile-label">{t('ihSpool')}</span><span class="tile-value">{num(h.spool.depthMessages)}</span>
                <span class="tile-sub">{bytes(h.spool.depthBytes)} / {bytes(h.spool.limitBytes)} ({pct(h.spool.usedRatio)})</span>
                <span class="progress"><i style={{ width: `${Math.min(100, h.spool.usedRatio * 100)}%` }} class={h.spool.usedRatio > 0.8 ? 'bad' : ''} /></span></div>
              <div class={`tile${h.influx.writing ? '' : ' alarm'}`} data-testid="ingest-influx"><span class="tile-label">{t('ihInflux')}</span><span class={`tile-value ${h.influx.writing ? 'ok' : 'bad'}`}>{h.influx.writing ? t('ovInfluxUp') : t('ovInfluxDown')}</span>
                <span class="tile-sub">{h.influx.version ?? '—'} · {t('wWriteErrors')} {num(h.influx.writeErrors)} · MQTT {h.mqttClients} · WS {h.liveClients}</span></div>
            </div>
            <Card title={`${t('ihRates')} · ${t('ihLastHour')}`}>{hist.points.length === 0 ? <div class="muted pad">{t('ihSampling')}</div> : <Chart option={opt} height={200} testid="chart-ingest" points={hist.points.length} />}</Card>
            <div class="grid two">
              <Card title={t('ihDeadLetters')} testid="dead-letters-by-reason">
                {h.deadLetters.byReason.length === 0 ? <Empty /> : (
                  <table class="table compact">
                    <thead><tr><th>{t('ihReason')}</th><th class="num">{t('count')}</th><th>{t('ihExcerpt')}</th></tr></thead>
                    <tbody>{h.deadLetters.byReason.map((r) => (
                      <tr key={r.reason} data-testid={`dead-reason-${r.reason}`}>
                        <td title={r.reason} class="nowrap">{codeName(r.reason)}</td>
                        <td class="num">{num(r.count)}</td>
                        <td>{r.latest && <><div class="small">{r.latest.message}</div><div class="muted small">{shortDateTime(r.latest.at)} · {r.latest.sender ?? '—'} · {r.latest.topic}</div><code class="excerpt">{r.latest.excerpt}</code></>}</td>
                      </tr>
                    ))}</tbody>
                  </table>
                )}
              </Card>
              <Card title={t('wRecentDeadLetters')}>
                {h.deadLetters.recent.length === 0 ? <Empty /> : (
                  <div class="scroll-y">
                    <table class="table compact">
                      <thead><tr><th>{t('time')}</th><th>{t('ihReason')}</th><th>{t('ihSender')}</th><th>{t('ihExcerpt')}</th></tr></thead>
                      <tbody>{h.deadLetters.recent.map((r) => (
                        <tr key={r.seq}><td>{shortDateTime(r.at)}</td><td title={r.reason} class="nowrap">{codeName(r.reason ?? '')}</td><td>{r.sender ?? '—'}<div class="muted small">{codeName(r.transport)}</div></td><td><div class="small">{r.message}</div><code class="excerpt">{r.excerpt}</code></td></tr>
                      ))}</tbody>
                    </table>
                  </div>
                )}
              </Card>
            </div>
            <Card title={t('ihRuleRuns')} testid="rule-runs">
              {h.rules.length > 0 && (
                <table class="table compact">
                  <thead><tr><th>{t('ihRule')}</th><th>{t('wSchedule')}</th><th>{t('wNextRun')}</th><th>{t('state')}</th></tr></thead>
                  <tbody>{h.rules.map((r) => <tr key={r.rule} data-testid={`rule-${r.rule}`}><td title={r.rule}>{codeName(r.rule)}</td><td title={r.schedule ?? ''}>{cronText(r.schedule)}</td><td>{dateTime(r.nextRunAt)}</td><td>{r.running ? t('wRunning') : r.lastRun?.error ? <span class="bad">{r.lastRun.error}</span> : <span class="ok">{t('statusOk')}</span>}</td></tr>)}</tbody>
                </table>
              )}
              <table class="table compact">
                <thead><tr><th>#</th><th>{t('ihRule')}</th><th>{t('wTrigger')}</th><th>{t('ihStarted')}</th><th class="num">{t('ihDuration')}</th><th class="num">{t('wChecked')}</th><th class="num">{t('wRaised')}</th><th class="num">{t('wResolved')}</th><th class="num">{t('wStillActive')}</th><th>{t('ihResult')}</th></tr></thead>
                <tbody>{h.ruleRuns.map((r) => (
                  <tr key={r.id} data-testid={`rule-run-${r.id}`}><td>{r.id}</td><td title={r.rule}>{codeName(r.rule)}</td><td>{term(r.trigger)}</td><td>{dateTime(r.startedAt)}</td><td class="num">{r.durationMs ?? '—'} ms</td>
                    <td class="num">{num(r.checked)}</td><td class="num">{num(r.raised)}</td><td class="num">{num(r.resolved)}</td><td class="num">{num(r.stillActive)}</td>
                    <td>{r.error ? <span class="bad">{r.error}</span> : <span class="ok">{t('statusOk')}</span>}</td></tr>
                ))}</tbody>
              </table>
            </Card>
          </>
        )}
      </Loaded>
    </div>
  );
}
