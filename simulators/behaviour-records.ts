// Partner records as pure functions: routine maintenance every ~15 days
// (late units often 16–25), yearly periodic inspections with a per-unit
// first-inspection pass rate and re-inspections after a failure, hotline
// complaints, and rescue progress after an entrapment.
import { MAINTENANCE_KINDS, type ComplaintIn, type InspectionIn, type MaintenanceIn, type RescueIn } from '../domain/messages.js';
import type { SimElevator, SimUnit } from './city.js';
import type { Rng } from './random.js';
import { HOUR_MS, MINUTE_MS } from '../domain/time.js';

export type MaintenanceKind = (typeof MAINTENANCE_KINDS)[number];

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴', '徐', '孙', '胡', '朱', '高', '林', '何', '郭', '马', '罗', '邓', '曾', '彭', '唐'];
const GIVEN = ['伟', '强', '军', '勇', '磊', '洋', '杰', '涛', '明', '超', '华', '平', '刚', '辉', '鹏', '斌', '建国', '志强', '海波', '小龙', '红梅', '丽娟', '文', '静'];

export function personName(rng: Rng): string {
  return `${rng.pick(SURNAMES)}${rng.pick(GIVEN)}`;
}

/** A moment during working hours of the day starting at `dayStart` (CST midnight). */
export function workTime(dayStart: number, rng: Rng, fromHour = 8, toHour = 18): number {
  return dayStart + Math.floor(rng.range(fromHour, toHour) * HOUR_MS / 1000) * 1000;
}

/** The kind of the n-th routine visit of a year (1-based): half-monthly, with quarterly, semiannual and annual ones in between. */
export function maintenanceKind(visit: number): MaintenanceKind {
  if (visit % 24 === 0) return 'annual';
  if (visit % 12 === 0) return 'semiannual';
  if (visit % 6 === 0) return 'quarterly';
  return 'half_monthly';
}

/** Days until the next routine visit: 12–15 normally, 16–25 when the unit is late (as often as its lateness factor). */
export function maintenanceGapDays(unit: SimUnit, rng: Rng): number {
  return rng.chance(unit.lateness) ? rng.int(16, 25) : rng.int(12, 15);
}

export function maintenanceRecord(id: string, ts: number, elevator: string, unit: string, kind: MaintenanceKind, rng: Rng): MaintenanceIn {
  return { id, ts, elevator, unit, kind, technician: personName(rng) };
}

export interface InspectionAttempt {
  attempt: number;
  result: 'pass' | 'fail';
  /** days after the previous attempt (0 for the first) */
  gapDays: number;
}

/**
 * One periodic-inspection cycle: attempt 1 passes with the unit's target
 * rate; after a failure a re-inspection follows a few weeks later, which
 * usually passes.
 */
export function inspectionAttempts(passRate: number, rng: Rng): InspectionAttempt[] {
  const out: InspectionAttempt[] = [{ attempt: 1, result: rng.chance(passRate) ? 'pass' : 'fail', gapDays: 0 }];
  while (out[out.length - 1]!.result === 'fail') {
    const attempt = out.length + 1;
    out.push({ attempt, result: attempt >= 3 || rng.chance(0.9) ? 'pass' : 'fail', gapDays: rng.int(14, 35) });
  }
  return out;
}

export function inspectionRecord(
  id: string, ts: number, elevator: SimElevator, institution: string, a: InspectionAttempt, nextDue?: string,
): InspectionIn {
  return {
    id, ts, elevator: elevator.code, institution, unit: elevator.maintenanceUnit, kind: 'periodic', attempt: a.attempt, result: a.result,
    ...(a.result === 'pass' && nextDue ? { nextDue } : {}),
  };
}

/** Complaints per elevator per year: about 2 per 100 elevators (the interview threshold is 5), a few units several times more. */
export const complaintsPerElevatorYear = (unit: SimUnit): number => 0.02 * unit.complaintFactor;

const CATEGORIES = ['困人', '电梯异响', '运行抖动', '门开关异常', '经常停梯', '维保不到位', '按钮失灵', '照明通风故障', '平层不准', '检验标志过期'];
const CATEGORY_WEIGHTS = [12, 15, 12, 15, 18, 10, 6, 5, 5, 2];

export function complaintRecord(id: string, ts: number, elevator: SimElevator, rng: Rng): ComplaintIn {
  const source = rng.weighted(['12345', '96333', 'other'] as const, [55, 40, 5]);
  const category = rng.weighted(CATEGORIES, CATEGORY_WEIGHTS);
  // Most name the elevator; some only the maintenance unit (a complaint about the company).
  if (category === '维保不到位' && rng.chance(0.4)) return { id, ts, source, category, unit: elevator.maintenanceUnit };
  return { id, ts, source, category, elevator: elevator.code, unit: elevator.maintenanceUnit };
}

/**
 * Rescue progress after an entrapment that started at `start`: dispatched
 * within minutes, arrived usually 5–25 min later (sometimes more than 30),
 * then released (or, rarely, found to be a false alarm).
 */
export function entrapmentRescue(elevator: string, unit: string, start: number, rng: Rng, idFor: (ts: number) => string): RescueIn[] {
  const dispatched = start + rng.int(30, 240) * 1000;
  const travel = rng.chance(0.88) ? rng.range(5, 25) : rng.range(31, 55);
  const arrived = dispatched + Math.round(travel * MINUTE_MS / 1000) * 1000;
  const falseAlarm = rng.chance(0.05);
  const done = arrived + rng.int(falseAlarm ? 60 : 120, falseAlarm ? 300 : 720) * 1000;
  const rec = (ts: number, stage: RescueIn['stage']): RescueIn => ({ id: idFor(ts), ts, elevator, unit, stage });
  return [rec(dispatched, 'dispatched'), rec(arrived, 'arrived'), rec(done, falseAlarm ? 'false_alarm' : 'released')];
}
