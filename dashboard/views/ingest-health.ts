// Ingest health: message, storage and dead-letter rates sampled from the
// Prometheus counters every 5 s (a minute's window, an hour's history),
// dead letters by reason (the dead letters' owner), the spool, InfluxDB and
// the scheduled rules' runs.
import type { DeadLetterBrief } from '../../ingest/dead-letters.js';
import { RateHistory } from '../rate-history.js';
import type { ViewsDeps } from './common.js';

export interface RateSample {
  at: number;
  messages: number;
  byChannel: Record<string, number>;
  byTransport: Record<string, number>;
  stored: number;
  deadLetters: number;
  duplicates: number;
  refusals: number;
}

export const RATE_SAMPLE_MS = 5000;
const RATE_WINDOW_SAMPLES = 13; // one minute
/** How far back the ingest-health chart reaches (GET /api/v1/ingest/rates). */
export const RATE_HISTORY_MS = 3600_000;

export class IngestHealthView {
  private samples: RateSample[] = [];
  /** the minute rates at each sample, for the last hour */
  readonly rateHistory = new RateHistory(RATE_HISTORY_MS / RATE_SAMPLE_MS);
  private sampler: NodeJS.Timeout;

  constructor(private readonly deps: ViewsDeps) {
    void this.sample();
    this.sampler = setInterval(() => void this.sample(), RATE_SAMPLE_MS);
    this.sampler.unref();
  }

  close(): void {
    clearInterval(this.sampler);
  }

  private async sample(): Promise<void> {
    const s = await this.readCounters();
    if (!s) return;
    this.samples.push(s);
    if (this.samples.length > RATE_WINDOW_SAMPLES) this.samples.shift();
    const r = this.rates();
    this.rateHistory.push({ at: s.at, messagesPerSec: r.messagesPerSec, storedPerSec: r.storedPerSec, deadLettersPerSec: r.deadLettersPerSec });
  }

  /** The counters now (not added to the rate window). */
  private async readCounters(): Promise<RateSample | null> {
    const m = this.deps.metrics;
    const sum = async (c: { get(): Promise<{ values: { value: number; labels: Record<string, string | number | undefined> }[] }> }, by?: string) => {
      const values = (await c.get()).values;
      const total = values.reduce((a, v) => a + v.value, 0);
      const grouped: Record<string, number> = {};
      if (by) for (const v of values) grouped[String(v.labels[by])] = (grouped[String(v.labels[by])] ?? 0) + v.value;
      return { total, grouped };
    };
    try {
      const [byChannel, byTransport, stored, letters, dups, refusals] = await Promise.all([
        sum(m.messagesIn, 'channel'), sum(m.messagesIn, 'transport'), sum(m.objectsStored), sum(m.deadLetters), sum(m.duplicates), sum(m.refusals),
      ]);
      return {
        at: Date.now(), messages: byChannel.total, byChannel: byChannel.grouped, byTransport: byTransport.grouped,
        stored: stored.total, deadLetters: letters.total, duplicates: dups.total, refusals: refusals.total,
      };
    } catch (err) {
      this.deps.log.debug({ err }, 'dashboard: reading the counters failed');
      return null;
    }
  }

  /** Rates over the sampled window (up to a minute); zeros until two samples exist. */
  rates() {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    const dt = first && last && last.at > first.at ? (last.at - first.at) / 1000 : 0;
    const rate = (a: number, b: number) => (dt ? Math.round(((b - a) / dt) * 100) / 100 : 0);
    const perKey = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(b).map((k) => [k, rate(a[k] ?? 0, b[k]!)]));
    return {
      windowS: Math.round(dt),
      messagesPerSec: first && last ? rate(first.messages, last.messages) : 0,
      byChannel: first && last ? perKey(first.byChannel, last.byChannel) : {},
      byTransport: first && last ? perKey(first.byTransport, last.byTransport) : {},
      storedPerSec: first && last ? rate(first.stored, last.stored) : 0,
      deadLettersPerSec: first && last ? rate(first.deadLetters, last.deadLetters) : 0,
      duplicatesPerSec: first && last ? rate(first.duplicates, last.duplicates) : 0,
      refusalsPerSec: first && last ? rate(first.refusals, last.refusals) : 0,
    };
  }

  async ingestHealth(liveClients: number | null) {
    const { deadLetters, spool, ingest, store, scheduler, metrics } = this.deps;
    const last = (await this.readCounters()) ?? this.samples.at(-1); // totals now; rates from the sampled window
    const counts = deadLetters.countsByReason();
    const latest = new Map<string, DeadLetterBrief>(deadLetters.latestPerReason().map((r) => [r.reason, r]));
    const byReason = Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([reason, count]) => {
        const l = latest.get(reason);
        return { reason, count, latest: l ? { seq: l.seq, at: l.at, topic: l.topic, sender: l.sender, transport: l.transport, message: l.message, excerpt: l.excerpt } : null };
      });
    const writeErrors = (await metrics.writeErrors.get()).values.reduce((a, v) => a + v.value, 0);
    const clients = (await metrics.clients.get()).values[0]?.value ?? 0;
    return {
      at: Date.now(),
      rates: this.rates(),
      totals: { messages: last?.messages ?? 0, stored: last?.stored ?? 0, deadLetters: last?.deadLetters ?? 0, duplicates: last?.duplicates ?? 0, refusals: last?.refusals ?? 0 },
      deadLetters: { total: Object.values(counts).reduce((a, b) => a + b, 0), byReason, recent: deadLetters.recent(20) },
      spool: { depthMessages: spool.depthCount, depthBytes: spool.depthBytes, limitBytes: spool.limitBytes, full: spool.full, usedRatio: spool.limitBytes ? spool.depthBytes / spool.limitBytes : 0 },
      influx: { writing: store.connected && ingest.influxUp, version: store.version, writeErrors },
      mqttClients: clients,
      liveClients,
      rules: scheduler.rules().map((r) => ({ rule: r.rule, schedule: r.schedule, nextRunAt: r.nextRunAt, running: r.running, lastRun: r.lastRun })),
      ruleRuns: scheduler.runs({ pageSize: 20 }).items,
    };
  }
}
