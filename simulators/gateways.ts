// Live traffic against the MQTT broker: one connection per gateway (and per
// partner), elevator status spread over all elevators to meet a total rate,
// faults, entrapments with rescue progress, gas readings and cylinder
// fillings, and partner records at a sped-up pace. Everything at QoS 1.
//
// An entrapment is followed, at the event times of the backfill's timing model
// (`entrapmentRescue`), by the rescue records of the elevator's maintenance
// unit (its partner P-<unit>: dispatched, arrived, released or false_alarm)
// and the gateway's `cleared` event; `rescueSpeed` compresses that timeline
// (tests, a quick demo), 1 = real time.
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { topics, type Channel } from '../domain/channels.js';
import { Agenda } from './agenda.js';
import {
  complaintRecord, complaintsPerElevatorYear, DEFAULT_RATES, filling, gasReadings, initElevator, initGasSite, initStation, inspectionAttempts,
  inspectionRecord, maintenanceGapDays, maintenanceKind, maintenanceRecord, messageId, sampleElevator, type ElevatorState, type Rates, type Timed,
} from './behaviour.js';
import { unitPartnerId, type City, type SimElevator } from './city.js';
import type { EquipmentStates } from './history.js';
import { Rng } from './random.js';
import { addDays, cstDate, DAY_MS } from '../domain/time.js';

export type SimLog = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface GatewayOptions {
  /** e.g. mqtt://127.0.0.1:1883 */
  mqttUrl: string;
  /** more brokers (cluster nodes): connections are spread round-robin over mqttUrl and these */
  moreMqttUrls?: string[];
  city: City;
  /** gateway/partner id → secret */
  secrets: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** total elevator status messages per second */
  ratePerSecond: number;
  seed: number;
  log: SimLog;
  /** stop by itself after this long */
  durationMs?: number;
  /** multiplies the rates of faults, entrapments and gas leaks (a demo wants to see some) */
  eventBoost?: number;
  /** how much faster than real life partners send maintenance, inspection and complaint records */
  recordSpeed?: number;
  /** how much faster than real life an entrapment's rescue progress and clearing follow it (default 1: real time) */
  rescueSpeed?: number;
  /** how often each gas site reports all its detectors */
  gasIntervalMs?: number;
  /** connect partners too (records and rescues) */
  partners?: boolean;
  /** connections opened at once while starting */
  connectConcurrency?: number;
  /** unacknowledged publishes above which status samples are skipped */
  maxInflight?: number;
  /** one-line summary in the log this often; 0 = never */
  summaryEveryMs?: number;
  /** power or network cuts: about every `everyMs` one gateway goes silent for `durationMs` (its equipment shows as offline) */
  outages?: { everyMs: number; durationMs: number };
  /** carry on from these equipment states (the end of a backfilled history) instead of fresh ones */
  states?: EquipmentStates;
}

export interface GatewayStats {
  clients: number;
  connected: number;
  connectFailures: number;
  published: Record<Channel, number>;
  acked: number;
  publishErrors: number;
  inflight: number;
  /** status samples skipped because too many publishes were unacknowledged */
  skipped: number;
  /** messages for clients that could not connect */
  undeliverable: number;
  /** messages not sent because their gateway was in a simulated outage */
  silenced: number;
  uptimeMs: number;
}

export interface RunningGateways {
  stop(): Promise<void>;
  stats(): GatewayStats;
  /** resolves once stopped (by stop() or after durationMs) */
  done: Promise<void>;
}

export function summary(s: GatewayStats): string {
  const p = s.published;
  return `clients ${s.connected}/${s.clients} | status ${p.status} (${((p.status / Math.max(1, s.uptimeMs)) * 1000).toFixed(0)}/s) event ${p.event} reading ${p.reading} filling ${p.filling} | ` +
    `maintenance ${p.maintenance} inspection ${p.inspection} complaint ${p.complaint} rescue ${p.rescue} | acked ${s.acked} inflight ${s.inflight} errors ${s.publishErrors} skipped ${s.skipped}`;
}

const CONNECT_TRIES = 4;
const CONNECT_RETRY_MS = 2000;
/** after CONNECT_TRIES failed: the next round of tries */
const LATER_RETRY_MS = 10_000;

async function retry<T>(tries: number, fn: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= tries) throw e;
      await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
    }
  }
}

export async function runGateways(opts: GatewayOptions): Promise<RunningGateways> {
  const { city, log } = opts;
  const secretOf = (id: string) => (opts.secrets instanceof Map ? opts.secrets.get(id) : (opts.secrets as Record<string, string>)[id]);
  const boost = opts.eventBoost ?? 1;
  const rates: Rates = { faultsPerDay: DEFAULT_RATES.faultsPerDay * boost, entrapmentsPerDay: DEFAULT_RATES.entrapmentsPerDay * boost, leaksPerDetectorDay: DEFAULT_RATES.leaksPerDetectorDay * boost };
  const speed = Math.max(1, opts.recordSpeed ?? 50);
  const rescueSpeed = Math.max(1, opts.rescueSpeed ?? 1);
  const maxInflight = opts.maxInflight ?? 5000;
  const rng = new Rng(opts.seed).fork('live');
  const started = Date.now();
  const published = { status: 0, event: 0, reading: 0, filling: 0, maintenance: 0, inspection: 0, complaint: 0, rescue: 0, hazard: 0 } satisfies Record<Channel, number>;
  const online = new Set<string>();
  const st = { connectFailures: 0, acked: 0, publishErrors: 0, inflight: 0, skipped: 0, undeliverable: 0, silenced: 0 };
  const downUntil = new Map<string, number>();

  // ---- connections
  const clients = new Map<string, MqttClient>();
  const ids = [...city.gateways.map((g) => g.id), ...(opts.partners === false ? [] : city.partners.map((p) => p.id))];
  const urls = [opts.mqttUrl, ...(opts.moreMqttUrls ?? [])];
  const connectOne = async (id: string, i: number) => {
    const password = secretOf(id);
    if (!password) {
      st.connectFailures++;
      log.warn({ id }, 'no secret for this gateway/partner; it stays offline');
      return;
    }
    try {
      // A few tries, as a real gateway keeps trying: another cluster node may learn a just-registered secret a moment later.
      const c = await retry(CONNECT_TRIES, () => mqtt.connectAsync(urls[i % urls.length]!, { username: id, password, clientId: id, reconnectPeriod: 0, connectTimeout: 15_000, keepalive: 60, clean: true }, false));
      if (stopping) return void c.endAsync(true).catch(() => undefined); // connected after stop(): a late retry
      c.options.reconnectPeriod = 5000; // from now on, come back after a broker restart
      c.on('connect', () => online.add(id));
      c.on('close', () => online.delete(id));
      c.on('error', (err) => log.warn({ id, err: err.message }, 'mqtt client error'));
      online.add(id);
      clients.set(id, c);
    } catch (e) {
      st.connectFailures++;
      // A real gateway never gives up: keep trying in the background (a busy cluster node may learn its secret late).
      log.warn({ id, err: (e as Error).message, retryInMs: LATER_RETRY_MS }, 'could not connect; trying again later');
      setTimeout(() => void (stopping ? undefined : connectOne(id, i)), LATER_RETRY_MS).unref();
    }
  };
  const chunk = Math.max(1, opts.connectConcurrency ?? 50);
  for (let i = 0; i < ids.length; i += chunk) {
    await Promise.all(ids.slice(i, i + chunk).map((id, k) => connectOne(id, i + k)));
    if (ids.length > 4 * chunk && (i / chunk) % 10 === 9) log.info({ connected: clients.size, of: ids.length }, 'connecting gateways');
  }
  log.info({ connected: clients.size, failed: st.connectFailures, of: ids.length }, 'gateways connected');

  const publish = (clientId: string, channel: Channel, topic: string, payload: unknown) => {
    const c = clients.get(clientId);
    if (!c) {
      st.undeliverable++;
      return;
    }
    if ((downUntil.get(clientId) ?? 0) > Date.now()) {
      st.silenced++;
      return;
    }
    st.inflight++;
    published[channel]++;
    c.publish(topic, JSON.stringify(payload), { qos: 1 }, (err) => {
      st.inflight--;
      if (err) st.publishErrors++;
      else st.acked++;
    });
  };

  // ---- equipment state
  const now0 = Date.now();
  const gatewayOf = new Map<string, string>();
  for (const g of city.gateways) for (const code of [...g.elevators, ...g.gasSites]) gatewayOf.set(code, g.id);
  const elevators = city.elevators.map((e) => ({ e, rng: rng.fork(e.code), state: null as ElevatorState | null }));
  for (const x of elevators) x.state = opts.states?.elevators.get(x.e.code) ?? initElevator(x.e, x.rng, now0);
  const order = rng.shuffle([...elevators.keys()]);
  const agenda = new Agenda();
  let seq = 0;

  const sendTimed = (t: Timed) => {
    if (t.channel === 'event') publish(gatewayOf.get(t.code)!, 'event', topics.event(t.code), t.payload);
    else publish(unitPartnerId(t.unit), 'rescue', topics.record('rescue'), t.payload);
  };

  // gas readings: every site every gasIntervalMs, phases spread
  const gasEvery = opts.gasIntervalMs ?? 15_000;
  for (const site of city.gasSites) {
    const r = rng.fork(site.code);
    const s = opts.states?.gasSites.get(site.code) ?? initGasSite(site, r, now0);
    const tick = (now: number) => {
      publish(gatewayOf.get(site.code)!, 'reading', topics.reading(site.code), gasReadings(s, r, now, rates));
      agenda.at(now + gasEvery * r.range(0.9, 1.1), tick);
    };
    agenda.at(now0 + r.range(0, gasEvery), tick);
    if (site.kind === 'filling_station') {
      const station = initStation(site, r, cstDate(now0));
      const fill = (now: number) => {
        publish(gatewayOf.get(site.code)!, 'filling', topics.filling(site.code), filling(station, r, now));
        agenda.at(now + r.exp(90_000), fill);
      };
      agenda.at(now0 + r.exp(90_000), fill);
    }
  }

  // partner records, sped up by `speed`
  if (opts.partners !== false) {
    const units = new Map(city.units.map((u) => [u.id, u]));
    const pr = rng.fork('partners');
    for (const { e } of elevators) {
      const unit = units.get(e.maintenanceUnit)!;
      let visit = pr.int(1, 24);
      const maintain = (now: number) => {
        publish(unitPartnerId(unit.id), 'maintenance', topics.record('maintenance'), maintenanceRecord(messageId('m', e.code, now, ++seq), now, e.code, unit.id, maintenanceKind(visit), pr));
        visit = (visit % 24) + 1;
        agenda.at(now + (maintenanceGapDays(unit, pr) * DAY_MS) / speed, maintain);
      };
      agenda.at(now0 + (pr.range(0, 15) * DAY_MS) / speed, maintain);
    }
    // inspections: the institute works through elevators by due date, a year's worth at `speed`
    const byDue = [...city.elevators].sort((a, b) => (a.nextInspectionDue < b.nextInspectionDue ? -1 : 1));
    let next = 0;
    const inspectEvery = (365 * DAY_MS) / speed / Math.max(1, byDue.length);
    const inspect = (e: SimElevator, attempts: ReturnType<typeof inspectionAttempts>, i: number) => (now: number) => {
      const a = attempts[i]!;
      const nextDue = a.result === 'pass' ? addDays(cstDate(now), 365) : undefined;
      publish(city.institute, 'inspection', topics.record('inspection'), inspectionRecord(messageId('i', e.code, now, ++seq), now, e, city.institute, a, nextDue));
      if (i + 1 < attempts.length) agenda.at(now + (attempts[i + 1]!.gapDays * DAY_MS) / speed, inspect(e, attempts, i + 1));
    };
    const nextInspection = (now: number) => {
      const e = byDue[next++ % byDue.length]!;
      inspect(e, inspectionAttempts(units.get(e.maintenanceUnit)!.passRate, pr), 0)(now);
      agenda.at(now + pr.exp(inspectEvery), nextInspection);
    };
    if (byDue.length) agenda.at(now0 + pr.exp(inspectEvery), nextInspection);
    // complaints through the hotline, weighted by each unit's complaint rate
    const cum: number[] = [];
    let total = 0;
    for (const e of city.elevators) cum.push((total += complaintsPerElevatorYear(units.get(e.maintenanceUnit)!)));
    const complaintEvery = (365 * DAY_MS) / speed / Math.max(total, 1e-9);
    const complain = (now: number) => {
      const x = pr.next() * total;
      let lo = 0;
      for (let hi = cum.length - 1; lo < hi; ) {
        const mid = (lo + hi) >> 1;
        if (cum[mid]! > x) hi = mid;
        else lo = mid + 1;
      }
      const e = city.elevators[lo]!;
      publish(city.hotline, 'complaint', topics.record('complaint'), complaintRecord(messageId('c', e.code, now, ++seq), now, e, pr));
      agenda.at(now + pr.exp(complaintEvery), complain);
    };
    if (total > 0) agenda.at(now0 + pr.exp(complaintEvery), complain);
  }

  // power or network cuts at random gateways
  if (opts.outages && city.gateways.length) {
    const { everyMs, durationMs } = opts.outages;
    const or = rng.fork('outages');
    const cut = (now: number) => {
      const g = city.gateways[or.int(0, city.gateways.length - 1)]!;
      downUntil.set(g.id, now + durationMs);
      log.info({ gateway: g.id, elevators: g.elevators.length, gasSites: g.gasSites.length, minutes: Math.round(durationMs / 60_000) }, 'simulated outage: gateway goes silent');
      agenda.at(now + or.exp(everyMs), cut);
    };
    agenda.at(now0 + or.range(30_000, 90_000), cut); // the first soon, so a demo shows one early
  }

  // ---- the clock: status by a token bucket, everything else from the agenda
  let due = 0;
  let cursor = 0;
  let last = Date.now();
  const tick = () => {
    const now = Date.now();
    due += (opts.ratePerSecond * (now - last)) / 1000;
    last = now;
    if (st.inflight > maxInflight) {
      st.skipped += Math.floor(due);
      due -= Math.floor(due);
    }
    while (due >= 1 && order.length) {
      due--;
      const x = elevators[order[cursor++ % order.length]!]!;
      const s = sampleElevator(x.state!, x.rng, now, rates, rescueSpeed);
      const gw = gatewayOf.get(x.e.code)!;
      publish(gw, 'status', topics.status(x.e.code), s.status);
      for (const ev of s.events) publish(gw, 'event', topics.event(x.e.code), ev);
      for (const t of s.later) agenda.at(t.at, () => sendTimed(t));
    }
    agenda.runDue(now);
  };
  const timer = setInterval(tick, 50);
  const summaryTimer = opts.summaryEveryMs === 0 ? null : setInterval(() => log.info(summary(stats())), opts.summaryEveryMs ?? 10_000);

  function stats(): GatewayStats {
    return { clients: ids.length, connected: online.size, ...st, published: { ...published }, uptimeMs: Date.now() - started };
  }

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(timer);
      if (summaryTimer) clearInterval(summaryTimer);
      const deadline = Date.now() + 10_000;
      while (st.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await Promise.all([...clients.values()].map((c) => c.endAsync().catch(() => undefined)));
      log.info(summary(stats()));
      resolveDone();
    })());
  if (opts.durationMs !== undefined) setTimeout(() => void stop(), opts.durationMs).unref();
  return { stop, stats, done };
}
