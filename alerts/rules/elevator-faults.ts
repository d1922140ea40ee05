// Elevator faults and entrapment: raised and cleared by the gateway's
// `state`, in event time. Pure: (event, what the store knows) → action.
import type { ElevatorEvent, EventType, Rescue } from '../../domain/messages.js';
import type { Alert, Severity } from '../store.js';

/** Severity per fault type (documented in README, "Alerts"). */
export const FAULT_SEVERITY: Record<EventType, Severity> = {
  entrapment: 'critical',
  unintended_car_movement: 'critical',
  overspeed: 'critical',
  door_open_while_running: 'critical',
  overtravel_top: 'critical',
  overtravel_bottom: 'critical',
  safety_circuit_open: 'major',
  door_lock_circuit_open: 'major',
  stopped_outside_door_zone: 'major',
  door_close_fault: 'minor',
  door_open_fault: 'minor',
  motor_runtime_limiter: 'minor',
  floor_position_lost: 'minor',
  restart_prevention_fault: 'minor',
  power_failure: 'minor',
  alarm_button: 'warning',
};

export type FaultAction =
  | { kind: 'raise'; type: EventType; severity: Severity; at: number }
  | { kind: 'resolve'; alertId: number; at: number; reason: string }
  | { kind: 'ignore'; why: string };

/**
 * `active` is the subject's active alert of this type, `lastResolved` the
 * latest resolved one. Out-of-order data never reopens or closes the wrong
 * alert: a raise older than the last resolution is history, a clear older
 * than the active alert's first occurrence belongs to an earlier episode.
 */
export function onFaultEvent(e: ElevatorEvent, active: Alert | undefined, lastResolved: Alert | undefined): FaultAction {
  if (e.state === 'raised') {
    if (!active && lastResolved?.resolvedAt != null && lastResolved.resolvedAt >= e.ts) return { kind: 'ignore', why: 'raise older than the last resolution' };
    return { kind: 'raise', type: e.type, severity: FAULT_SEVERITY[e.type], at: e.ts };
  }
  if (!active) return { kind: 'ignore', why: 'nothing active to clear' };
  if (e.ts < active.firstAt) return { kind: 'ignore', why: 'clear older than the active alert' };
  return { kind: 'resolve', alertId: active.id, at: e.ts, reason: 'cleared by the gateway' };
}

/** A rescue record ends an entrapment when the passengers are released or it was a false alarm. */
export function onRescue(r: Rescue, active: Alert | undefined): FaultAction {
  if (!active) return { kind: 'ignore', why: 'no active entrapment' };
  if (r.stage !== 'released' && r.stage !== 'false_alarm') return { kind: 'ignore', why: `stage ${r.stage}` };
  if (r.ts < active.firstAt) return { kind: 'ignore', why: 'rescue record older than the entrapment' };
  return { kind: 'resolve', alertId: active.id, at: r.ts, reason: r.stage === 'false_alarm' ? 'false_alarm' : 'released' };
}
