// Overdue maintenance and overdue periodic inspection as pure functions of
// the registry's elevator, what is known of its records and "now". Days are
// China Standard Time calendar days (domain/time.ts), so an elevator turns
// overdue at 00:00 CST, whatever time of day its last visit was.
//
// - Maintenance (TSG T5002): no routine visit (half-monthly, quarterly,
//   semi-annual or annual; a repair does not count) for more than
//   `maintenanceIntervalDays` whole days. An elevator with no routine visit on
//   record counts from the day the service first knew of it, so a freshly
//   registered city is not overdue on day one.
// - Periodic inspection (TSG T7001): the registry's `nextInspectionDue` has
//   passed and no periodic inspection has passed since that date.
import { cstDate, cstMidnight, DAY_MS, daysBetween } from '../../domain/time.js';

export const DEFAULT_MAINTENANCE_INTERVAL_DAYS = 15;

/** What the service knows of one elevator's records (epoch ms; null when none). */
export interface ElevatorFacts {
  /** when the service first knew of the elevator */
  firstKnownAt: number;
  /** event time of the newest routine maintenance record */
  lastRoutineAt: number | null;
  /** event time of the newest passing periodic inspection */
  lastPassAt: number | null;
}

/**
 * Whether the elevator is overdue now and from when (`dueAt`); `evidence()`
 * is what an alert keeps of the decision (built only when one is raised: a
 * run decides for every elevator of the city).
 */
export type OverdueDecision =
  | { overdue: true; dueAt: number; evidence: () => Record<string, unknown> }
  | { overdue: false; dueAt: number | null; evidence: () => Record<string, unknown> };

/**
 * 00:00 CST of the first day on which more than `intervalDays` whole days
 * have passed since `since`. (CST has no daylight saving: every day is
 * DAY_MS long, so adding days is adding milliseconds.)
 */
export function maintenanceDueAt(since: number, intervalDays: number): number {
  return cstMidnight(cstDate(since)) + (intervalDays + 1) * DAY_MS;
}

export function maintenanceOverdue(elevator: { maintenanceIntervalDays?: number }, facts: ElevatorFacts, now: number): OverdueDecision {
  const intervalDays = elevator.maintenanceIntervalDays ?? DEFAULT_MAINTENANCE_INTERVAL_DAYS;
  const since = facts.lastRoutineAt ?? facts.firstKnownAt;
  const dueAt = maintenanceDueAt(since, intervalDays);
  return {
    overdue: now >= dueAt,
    dueAt,
    evidence: () => ({
      lastRoutineAt: facts.lastRoutineAt,
      ...(facts.lastRoutineAt === null ? { noRoutineSince: facts.firstKnownAt } : {}),
      intervalDays,
      dueAt,
      daysWithoutRoutine: daysBetween(cstDate(since), cstDate(now)),
    }),
  };
}

/**
 * Whether a routine visit at `routineAt` ends the overdue period an alert
 * with this `firstAt` stands for: a visit after it began, or a late-arriving
 * record showing there was no overdue period then at all.
 */
export function routineEndsOverdue(alertFirstAt: number, routineAt: number, intervalDays = DEFAULT_MAINTENANCE_INTERVAL_DAYS): boolean {
  return maintenanceDueAt(routineAt, intervalDays) > alertFirstAt;
}

/** 00:00 CST of the day after the due date. */
export function inspectionDueAt(nextInspectionDue: string): number {
  return cstMidnight(nextInspectionDue) + DAY_MS;
}

export function inspectionOverdue(elevator: { nextInspectionDue?: string | null }, facts: Pick<ElevatorFacts, 'lastPassAt'>, now: number): OverdueDecision {
  const due = elevator.nextInspectionDue ?? null;
  if (due === null) return { overdue: false, dueAt: null, evidence: () => ({}) };
  const dueAt = inspectionDueAt(due);
  const passedSince = facts.lastPassAt !== null && cstDate(facts.lastPassAt) >= due;
  return {
    overdue: now >= dueAt && !passedSince,
    dueAt,
    evidence: () => ({ nextInspectionDue: due, lastPassAt: facts.lastPassAt, dueAt, daysOverdue: Math.max(0, daysBetween(due, cstDate(now))) }),
  };
}
