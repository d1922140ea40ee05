// The real-time rule engine: a thin shell that feeds every stored object to
// the pure rules and applies their actions to the alert store.
import type { Logger } from 'pino';
import type { ElevatorEvent, Filling, Reading, Rescue } from '../domain/messages.js';
import { fillingViolation } from './rules/filling.js';
import { DEFAULT_GAS, gasStep, type GasConfig, type GasState } from './rules/gas.js';
import type { Ingest, StoredItem } from '../ingest/pipeline.js';
import { onFaultEvent, onRescue, type FaultAction } from './rules/elevator-faults.js';
import type { AlertStore } from './store.js';

export function startAlertEngine(deps: { ingest: Ingest; alerts: AlertStore; log: Logger; gas?: GasConfig }): () => void {
  const { alerts, log } = deps;
  const gasCfg = deps.gas ?? DEFAULT_GAS;
  const gasStates = new Map<string, GasState>();

  function onReading(item: StoredItem): void {
    const g = item.record as Reading;
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
      alerts.raise({ type: 'gas_leak', severity: action.severity, subjectKind: 'gas_site', subject, district: item.ctx.district, at: g.ts, evidence: { channel: item.channel, sender: item.sender, ...g } });
    } else if (action.kind === 'resolve') {
      const active = alerts.active('gas_leak', 'gas_site', subject);
      if (active) alerts.resolve(active.id, 'system', `below ${gasCfg.level1 - gasCfg.clearMargin} %LEL for ${gasCfg.clearHoldMs / 1000} s`, g.ts);
    }
  }

  function apply(item: StoredItem, code: string, action: FaultAction): void {
    if (action.kind === 'ignore') return;
    if (action.kind === 'resolve') {
      alerts.resolve(action.alertId, 'system', action.reason, action.at);
      return;
    }
    alerts.raise({
      type: action.type, severity: action.severity, subjectKind: 'elevator', subject: code, district: item.ctx.district, unit: item.ctx.unit,
      at: action.at, evidence: { channel: item.channel, sender: item.sender, ...item.record },
    });
  }

  return deps.ingest.onStored((items) => {
    for (const item of items) {
      try {
        if (item.channel === 'event') {
          const e = item.record as ElevatorEvent;
          const code = item.code!;
          apply(item, code, onFaultEvent(e, alerts.active(e.type, 'elevator', code), alerts.lastResolved(e.type, 'elevator', code)));
        } else if (item.channel === 'filling') {
          const f = item.record as Filling;
          const why = fillingViolation(f);
          if (why) alerts.raise({ type: 'illegal_filling', severity: 'major', subjectKind: 'gas_site', subject: item.code!, district: item.ctx.district, at: f.ts, evidence: { channel: item.channel, sender: item.sender, why, ...f } });
        } else if (item.channel === 'reading') {
          onReading(item);
        } else if (item.channel === 'rescue') {
          const r = item.record as Rescue;
          apply(item, r.elevator, onRescue(r, alerts.active('entrapment', 'elevator', r.elevator)));
        }
      } catch (err) {
        log.error({ err, channel: item.channel, id: item.record.id }, 'alert rule failed');
      }
    }
  });
}
