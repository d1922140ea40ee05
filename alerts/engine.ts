// The real-time rule engine: a thin shell that feeds every stored object to
// the pure rules and applies their actions to the alert store.
import type { Logger } from 'pino';
import type { ElevatorEvent, Rescue } from '../domain/messages.js';
import type { Ingest, StoredItem } from '../ingest/pipeline.js';
import { onFaultEvent, onRescue, type FaultAction } from './rules/elevator-faults.js';
import type { AlertStore } from './store.js';

export function startAlertEngine(deps: { ingest: Ingest; alerts: AlertStore; log: Logger }): () => void {
  const { alerts, log } = deps;

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
