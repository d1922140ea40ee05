// The real-time rule engine: a thin shell that feeds every stored object to
// the pure rules and applies their actions to the alert store.
import type { Db } from '../storage/db.js';
import type { Logger } from 'pino';
import type { Ingest, IngestedItem } from '../ingest/pipeline.js';
import { RescueTimings } from './rescue-timings.js';
import { onFaultEvent, onRescue, type FaultAction } from './rules/elevator-faults.js';
import { fillingViolation } from './rules/filling.js';
import { DEFAULT_GAS, gasStep, type GasConfig, type GasState } from './rules/gas.js';
import { DEFAULT_ESCALATION, escalationStep, type EscalationConfig } from './rules/escalation.js';
import { OfflineMonitor } from './rules/offline.js';
import type { AlertStore } from './store.js';

/** What an alert keeps of the object that triggered it. */
const evidenceOf = (item: IngestedItem, extra: Record<string, unknown> = {}) => ({ channel: item.channel, sender: item.sender, ...extra, ...item.record });

export interface AlertEngineOptions {
  ingest: Ingest;
  alerts: AlertStore;
  log: Logger;
  db: Db;
  gas?: GasConfig;
  offline?: { timeoutMs: number; checkMs: number };
  /** an entrapment escalates when no unit has arrived after this long (default 30 min, TSG T5002) */
  arrivalMs?: number;
  escalation?: EscalationConfig;
  clock?: () => number;
  /**
   * Cluster mode: the timed rules (silence, rescue arrival, unacknowledged alerts) run only while this returns
   * true (on the leader), in one transaction that `fenceLeader` checks first; silence is judged by the clocks
   * every node writes to the shared state. Unset: one process, every check runs here.
   */
  cluster?: { leader: () => boolean; fenceLeader: () => void };
  /** counts each pass of the timed rules run here (in a cluster: only on the leader) */
  onTimedRun?: () => void;
}

/** What the engine knows of equipment liveness, for read APIs (the dashboard): no copy of the state. */
export interface EquipmentLiveness {
  /** last sign of life (event time capped at arrival), null when never heard from */
  lastSeenAt(kind: 'elevator' | 'gas_site', code: string): number | null;
  /** an `offline` alert is active for it */
  isOffline(kind: 'elevator' | 'gas_site', code: string): boolean;
}

/** `timings`: the rescue timings' owner, for the dashboard's entrapment lists. */
export type AlertEngine = (() => void) & {
  liveness: EquipmentLiveness;
  timings: RescueTimings;
  /** Drops what the rules keep in memory about equipment this node no longer processes (a partition moved away). */
  forget(keep: (code: string) => boolean): void;
};

export function startAlertEngine(deps: AlertEngineOptions): AlertEngine {
  const { alerts, log } = deps;
  const now = deps.clock ?? Date.now;
  const offlineCfg = deps.offline ?? { timeoutMs: 5 * 60_000, checkMs: 30_000 };
  const offline = new OfflineMonitor(deps.db, offlineCfg.timeoutMs);
  const timings = new RescueTimings(deps.db);
  const arrivalMs = deps.arrivalMs ?? 30 * 60_000;
  /** How long after its event time an occurrence is processed: what tells live data from late or backfilled data. */
  const lag = (eventTs: number) => Math.max(0, now() - eventTs);

  // Which equipment is offline now, kept in memory: signOfLife runs for every stored status message.
  const offlineNow = alerts.activeIds('offline');
  const stopTracking = alerts.onTransition(({ alert, transition }) => {
    if (alert.type !== 'offline') return;
    const key = `${alert.subjectKind}:${alert.subject}`;
    if (transition === 'raised') offlineNow.set(key, alert.id);
    else if (transition === 'resolved') offlineNow.delete(key);
  });

  function signOfLife(item: IngestedItem): void {
    const kind = item.channel === 'status' || item.channel === 'event' ? 'elevator' : 'gas_site';
    const key = `${kind}:${item.code}`;
    const at = Math.min(item.record.ts, item.receivedAt);
    if (!offline.seen({ key, at, district: item.ctx.district ?? null, unit: item.ctx.unit ?? null }) || !offlineNow.has(key)) return;
    const active = alerts.active('offline', kind, item.code!);
    if (active && at > active.lastAt) alerts.resolve(active.id, 'system', 'sending again', at, lag(at));
  }

  function checkOffline(): void {
    const t = now();
    if (deps.cluster) offline.flush(); // this node's clocks first, then the cluster's from the shared state
    for (const s of deps.cluster ? offline.silentShared(t) : offline.silent(t)) {
      if (offlineNow.has(s.key)) continue;
      const [kind, code] = s.key.split(':') as ['elevator' | 'gas_site', string];
      const last = alerts.lastResolved('offline', kind, code);
      if (last && last.lastAt >= s.at) continue; // this silence had its alert already (resolved by hand)
      // First and last occurrence: the last sign of life, so the alert says since when it has been silent.
      alerts.raise({ type: 'offline', severity: 'minor', subjectKind: kind, subject: code, district: s.district ?? undefined, unit: s.unit ?? undefined, at: s.at, evidence: { lastSeen: s.at, checkedAt: t } });
    }
    persistSeen();
  }
  /** Last-seen times go to SQLite in slices between other work, not in one long transaction. */
  function persistSeen(): void {
    offline.flush(2000);
    if (offline.pending) setImmediate(persistSeen);
  }
  const timed = () => {
    deps.onTimedRun?.();
    checkOffline();
    checkArrivals(now());
    checkUnacknowledged(now());
  };
  const timer = setInterval(() => {
    try {
      const cluster = deps.cluster;
      if (!cluster) return timed();
      // Not the leader: only hand this node's clocks to the shared state, where the leader judges silence.
      if (!cluster.leader()) return persistSeen();
      deps.db.transaction(() => {
        cluster.fenceLeader();
        timed();
      })();
    } catch (err) {
      log.error({ err }, 'timed checks failed');
    }
  }, offlineCfg.checkMs);
  timer.unref();
  const gasCfg = deps.gas ?? DEFAULT_GAS;
  const gasStates = new Map<string, GasState>();

  function onReading(item: IngestedItem<'reading'>): void {
    const g = item.record;
    const subject = `${item.code}:${g.detector}`;
    let state = gasStates.get(subject);
    if (!state) {
      // After a restart the level in force is the active alert's.
      const active = alerts.active('gas_leak', 'gas_site', subject);
      state = { level: active ? (active.severity === 'critical' ? 2 : 1) : 0, lowSince: null, lastTs: active?.lastAt ?? -Infinity };
    }
    const { state: next, action } = gasStep(state, g.lel, g.ts, gasCfg);
    gasStates.set(subject, next);
    if (action.kind === 'raise') {
      alerts.raise({ type: 'gas_leak', severity: action.severity, subjectKind: 'gas_site', subject, district: item.ctx.district, at: g.ts, lagMs: lag(g.ts), evidence: evidenceOf(item) });
    } else if (action.kind === 'resolve') {
      const active = alerts.active('gas_leak', 'gas_site', subject);
      if (active) alerts.resolve(active.id, 'system', `below ${gasCfg.level1 - gasCfg.clearMargin} %LEL for ${gasCfg.clearHoldMs / 1000} s`, g.ts, lag(g.ts));
    }
  }

  function apply(item: IngestedItem, code: string, action: FaultAction): void {
    if (action.kind === 'ignore') return;
    if (action.kind === 'resolve') {
      alerts.resolve(action.alertId, 'system', action.reason, action.at, lag(action.at));
      return;
    }
    const r = alerts.raise({
      type: action.type, severity: action.severity, subjectKind: 'elevator', subject: code, district: item.ctx.district, unit: item.ctx.unit,
      at: action.at, lagMs: lag(action.at), evidence: evidenceOf(item),
    });
    if (action.type === 'entrapment') timings.open(r.alert.id, code, r.alert.unit, r.alert.firstAt);
  }

  /** An entrapment with no `arrived` rescue record within the arrival limit escalates (once per limit passed). */
  function checkArrivals(t: number): void {
    for (const a of alerts.unresolved({ type: 'entrapment' })) {
      const timing = timings.get(a.id);
      if (timing?.arrivedAt != null) continue;
      const due = Math.floor((t - a.firstAt) / arrivalMs);
      if (due > a.escalation) alerts.escalate(a.id, t, due);
    }
  }

  /** Unacknowledged critical alerts: remind every N minutes, next contact level after M. */
  const escalationCfg = deps.escalation ?? DEFAULT_ESCALATION;
  function checkUnacknowledged(t: number): void {
    for (const a of alerts.unresolved({ state: 'open', severity: 'critical' })) {
      const step = escalationStep(a, t, escalationCfg);
      if (step.escalateTo !== undefined) alerts.escalate(a.id, t, step.escalateTo);
      else if (step.remind) alerts.remind(a.id, t);
    }
  }

  const unsubscribe = deps.ingest.onAccepted((items) => {
    for (const item of items) {
      try {
        if (item.code !== null) signOfLife(item);
        if (item.channel === 'event') {
          const e = item.record;
          const code = item.code!;
          apply(item, code, onFaultEvent(e, alerts.active(e.type, 'elevator', code), alerts.lastResolved(e.type, 'elevator', code)));
        } else if (item.channel === 'filling') {
          const f = item.record;
          const why = fillingViolation(f);
          if (why) alerts.raise({ type: 'illegal_filling', severity: 'major', subjectKind: 'gas_site', subject: item.code!, district: item.ctx.district, at: f.ts, lagMs: lag(f.ts), evidence: evidenceOf(item, { why }) });
        } else if (item.channel === 'reading') {
          onReading(item);
        } else if (item.channel === 'rescue') {
          const r = item.record;
          const active = alerts.active('entrapment', 'elevator', r.elevator);
          if (active && r.ts >= active.firstAt) timings.stage(active.id, r.stage, r.ts);
          apply(item, r.elevator, onRescue(r, active));
        }
      } catch (err) {
        log.error({ err, channel: item.channel, id: item.record.id }, 'alert rule failed');
      }
    }
  });
  const stop = () => {
    clearInterval(timer);
    unsubscribe();
    stopTracking();
    offline.flush();
  };
  const liveness: EquipmentLiveness = {
    lastSeenAt: (kind, code) => offline.lastSeen(`${kind}:${code}`),
    isOffline: (kind, code) => offlineNow.has(`${kind}:${code}`),
  };
  const forget = (keep: (code: string) => boolean) => {
    for (const subject of gasStates.keys()) if (!keep(subject.slice(0, subject.indexOf(':')))) gasStates.delete(subject);
  };
  return Object.assign(stop, { liveness, timings, forget });
}
