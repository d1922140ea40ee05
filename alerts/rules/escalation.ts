// Escalation of unacknowledged critical alerts (pure): remind every
// `renotifyMs` and raise the contact level by one every `escalateMs`, counted
// in wall-clock time from when the alert was opened, so a restart keeps the
// clock. An acknowledged alert has an owner and stops reminding; a resolved
// one is over.
import type { Alert } from '../store.js';

export interface EscalationConfig {
  renotifyMs: number;
  escalateMs: number;
  /** the highest contact level reached by waiting */
  maxLevel: number;
  /** alerts opened from data older than this are history, not a page (see the notifier) */
  historicalAfterMs: number;
}

export const DEFAULT_ESCALATION: EscalationConfig = { renotifyMs: 5 * 60_000, escalateMs: 15 * 60_000, maxLevel: 2, historicalAfterMs: 6 * 3_600_000 };

export function escalationStep(a: Alert, now: number, cfg: EscalationConfig): { escalateTo?: number; remind: boolean } {
  if (a.severity !== 'critical' || a.state !== 'open' || a.openedLagMs > cfg.historicalAfterMs) return { remind: false };
  const level = Math.min(cfg.maxLevel, Math.floor((now - a.openedAt) / cfg.escalateMs));
  if (level > a.escalation) return { escalateTo: level, remind: false }; // the escalation is itself a notification
  return { remind: now - (a.remindedAt ?? a.openedAt) >= cfg.renotifyMs };
}
