// Gas concentration alarms (GB/T 50493-2019): first level at ≥ 25 %LEL,
// second level at ≥ 50 %LEL. Hysteresis: an alarm clears only after readings
// stay below (level-1 threshold − margin) for the hold time, in event time,
// so a reading hovering at the line raises once and does not flap.
import type { Severity } from '../store.js';

export interface GasConfig {
  level1: number;
  level2: number;
  clearMargin: number;
  clearHoldMs: number;
}

export const DEFAULT_GAS: GasConfig = { level1: 25, level2: 50, clearMargin: 5, clearHoldMs: 60_000 };

/** Per detector: the alarm level in force and since when readings have been low enough to clear. */
export interface GasState {
  level: 0 | 1 | 2;
  lowSince: number | null;
  lastTs: number;
}

export type GasAction = { kind: 'raise'; level: 1 | 2; severity: Severity } | { kind: 'resolve' } | { kind: 'none' };

export const GAS_SEVERITY: Record<1 | 2, Severity> = { 1: 'major', 2: 'critical' };

export function gasStep(state: GasState | undefined, lel: number, ts: number, cfg: GasConfig = DEFAULT_GAS): { state: GasState; action: GasAction } {
  const s: GasState = state ?? { level: 0, lowSince: null, lastTs: -Infinity };
  if (ts < s.lastTs) return { state: s, action: { kind: 'none' } }; // out of order: history only
  const reading: 0 | 1 | 2 = lel >= cfg.level2 ? 2 : lel >= cfg.level1 ? 1 : 0;
  if (reading > s.level) return { state: { level: reading, lowSince: null, lastTs: ts }, action: { kind: 'raise', level: reading as 1 | 2, severity: GAS_SEVERITY[reading as 1 | 2] } };
  if (s.level === 0) return { state: { ...s, lastTs: ts }, action: { kind: 'none' } };
  if (lel >= cfg.level1 - cfg.clearMargin) return { state: { ...s, lowSince: null, lastTs: ts }, action: { kind: 'none' } };
  const lowSince = s.lowSince ?? ts;
  if (ts - lowSince >= cfg.clearHoldMs) return { state: { level: 0, lowSince: null, lastTs: ts }, action: { kind: 'resolve' } };
  return { state: { ...s, lowSince, lastTs: ts }, action: { kind: 'none' } };
}
