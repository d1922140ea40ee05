// Believable equipment behaviour as pure functions over explicit state and a
// seeded PRNG: elevator trips, doors and passengers, rare faults and
// entrapments, gas detector readings with rare leaks, cylinder fillings.
// Partner records (maintenance, inspection, complaint, rescue) are in
// behaviour-records.ts and re-exported here. Every message has a unique `id`
// and an event-time `ts` (epoch ms).
import type { EventIn, EventType, FillingIn, ReadingIn, RescueIn, StatusIn } from '../domain/messages.js';
import type { SimElevator, SimGasSite } from './city.js';
import { clamp, type Rng } from './random.js';
import { entrapmentRescue, personName } from './behaviour-records.js';
import { addDays, DAY_MS, HOUR_MS, MINUTE_MS } from '../domain/time.js';

export * from './behaviour-records.js';

/** A unique message id: prefix, equipment, event time (base 36) and a per-sender counter. */
export const messageId = (prefix: string, code: string, ts: number, seq: number): string => `${prefix}-${code}-${ts.toString(36)}-${seq.toString(36)}`;

/** How often rare things happen, per piece of equipment per day. */
export interface Rates {
  faultsPerDay: number;
  entrapmentsPerDay: number;
  leaksPerDetectorDay: number;
}
export const DEFAULT_RATES: Rates = { faultsPerDay: 0.1, entrapmentsPerDay: 0.01, leaksPerDetectorDay: 0.03 };

/** Probability that an event of `perDay` rate happens within `dtMs`. */
const happens = (rng: Rng, perDay: number, dtMs: number) => rng.chance(1 - Math.exp(-(perDay * Math.max(0, dtMs)) / DAY_MS));

// ---------------------------------------------------------------- elevators

type Phase = 'idle' | 'opening' | 'open' | 'closing' | 'running';

export interface ElevatorState {
  code: string;
  unit: string;
  lowest: number;
  top: number;
  ratedSpeed: number;
  floor: number;
  phase: Phase;
  phaseStart: number;
  phaseEnd: number;
  /** destination while running */
  to: number;
  passengers: boolean;
  runCount: number;
  doorCycles: number;
  runHours: number;
  /** active fault or entrapment: the car stands until `until` */
  fault: { type: EventType; until: number; outOfService: boolean } | null;
  seq: number;
  lastSample: number;
}

/** A message due later, in event time (clearing an event, rescue progress). */
export interface Timed {
  at: number;
  channel: 'event' | 'rescue';
  code: string;
  unit: string;
  payload: EventIn | RescueIn;
}

export interface ElevatorSample {
  status: StatusIn;
  /** events raised now */
  events: EventIn[];
  /** messages that follow later */
  later: Timed[];
}

export function initElevator(e: SimElevator, rng: Rng, now: number): ElevatorState {
  const runCount = rng.int(20_000, 600_000);
  return {
    code: e.code, unit: e.maintenanceUnit, lowest: e.lowestFloor, top: e.floors,
    ratedSpeed: e.floors > 18 ? 2.5 : e.floors > 11 ? 1.75 : 1.0,
    floor: e.lowestFloor === 1 ? 1 : rng.pick([1, e.lowestFloor]), phase: 'idle', phaseStart: now, phaseEnd: now + rng.range(0, 60_000), to: 1,
    passengers: false, runCount, doorCycles: Math.round(runCount * rng.range(2, 2.4)), runHours: Math.round(runCount * rng.range(0.008, 0.015)),
    fault: null, seq: 0, lastSample: now,
  };
}

/** Mean idle time between trips: busy by day, quiet at night (CST). */
function idleMeanMs(t: number): number {
  const hour = new Date(t + 8 * HOUR_MS).getUTCHours();
  if (hour >= 7 && hour < 9) return 15_000;
  if (hour >= 17 && hour < 20) return 20_000;
  if (hour >= 9 && hour < 22) return 45_000;
  return 600_000;
}

function pickTarget(s: ElevatorState, rng: Rng): number {
  let to = s.floor;
  for (let i = 0; i < 5 && to === s.floor; i++) {
    to = s.floor === 1 || s.floor < 1 ? rng.int(2, s.top) : rng.chance(0.6) ? (rng.chance(0.15) ? s.lowest : 1) : rng.int(s.lowest, s.top);
  }
  return to === s.floor ? (s.floor === s.top ? 1 : s.top) : to;
}

function startRun(s: ElevatorState, rng: Rng, at: number): void {
  s.to = pickTarget(s, rng);
  s.phase = 'running';
  s.phaseStart = at;
  s.phaseEnd = at + (Math.abs(s.to - s.floor) * 3 / s.ratedSpeed + 4) * 1000;
}

/** Moves the car through idle → run → doors … until `now`. */
function advance(s: ElevatorState, rng: Rng, now: number): void {
  if (s.fault && now >= s.fault.until) {
    s.fault = null;
    s.passengers = false;
    s.phase = 'idle';
    s.phaseStart = now;
    s.phaseEnd = now + rng.exp(idleMeanMs(now));
  }
  if (s.fault) return;
  if (now - s.phaseEnd > 2 * HOUR_MS) {
    // Long gap (start-up, a stopped simulator): skip ahead instead of replaying it.
    s.phaseEnd = now - rng.range(0, 10_000);
  }
  for (let i = 0; i < 10_000 && s.phaseEnd <= now; i++) {
    const at = s.phaseEnd;
    switch (s.phase) {
      case 'idle':
        if (rng.chance(0.25)) set(s, 'opening', at, 2000);
        else startRun(s, rng, at);
        break;
      case 'running':
        s.runCount++;
        s.runHours += (s.phaseEnd - s.phaseStart) / HOUR_MS;
        s.floor = s.to;
        set(s, 'opening', at, 2000);
        break;
      case 'opening':
        s.doorCycles++;
        s.passengers = rng.chance(s.passengers ? 0.3 : 0.75);
        set(s, 'open', at, rng.range(3000, 10_000));
        break;
      case 'open':
        set(s, 'closing', at, 3000);
        break;
      case 'closing':
        if (s.passengers) startRun(s, rng, at);
        else set(s, 'idle', at, rng.exp(idleMeanMs(at)));
        break;
    }
  }
}

function set(s: ElevatorState, phase: Phase, at: number, durationMs: number): void {
  s.phase = phase;
  s.phaseStart = at;
  s.phaseEnd = at + durationMs;
}

const FAULTS: readonly EventType[] = [
  'door_close_fault', 'door_open_fault', 'door_lock_circuit_open', 'stopped_outside_door_zone', 'safety_circuit_open', 'power_failure',
  'alarm_button', 'floor_position_lost', 'motor_runtime_limiter', 'restart_prevention_fault', 'overspeed', 'overtravel_top',
  'overtravel_bottom', 'unintended_car_movement', 'door_open_while_running',
];
const FAULT_WEIGHTS = [25, 15, 12, 10, 8, 8, 10, 4, 3, 2, 1, 1, 1, 0.5, 1];
const OUT_OF_SERVICE = new Set<EventType>(['safety_circuit_open', 'door_lock_circuit_open', 'overspeed', 'overtravel_top', 'overtravel_bottom', 'unintended_car_movement', 'restart_prevention_fault']);

/**
 * The elevator's status at `now`, plus any fault or entrapment that starts now.
 * `rescueSpeed` compresses an entrapment's timeline (rescue progress, clearing)
 * by that factor; 1 = real time.
 */
export function sampleElevator(s: ElevatorState, rng: Rng, now: number, rates: Rates = DEFAULT_RATES, rescueSpeed = 1): ElevatorSample {
  const dt = now - s.lastSample;
  s.lastSample = now;
  advance(s, rng, now);
  const events: EventIn[] = [];
  const later: Timed[] = [];
  if (!s.fault && happens(rng, rates.entrapmentsPerDay, dt)) {
    const floor = s.phase === 'running' ? currentFloor(s, now) : s.floor;
    const t = entrapmentTimeline(s.code, s.unit, floor, now, rng, () => ++s.seq, rescueSpeed);
    s.floor = floor;
    s.passengers = true;
    s.fault = { type: 'entrapment', until: t.clearAt, outOfService: false };
    events.push(t.raised);
    later.push(...t.later);
  } else if (!s.fault && happens(rng, rates.faultsPerDay, dt)) {
    const floor = s.phase === 'running' ? currentFloor(s, now) : s.floor;
    const f = faultEpisode(floor, now, rng, (ts) => messageId('ev', s.code, ts, ++s.seq));
    s.floor = floor;
    s.passengers = false;
    s.fault = { type: f.type, until: f.cleared.ts as number, outOfService: OUT_OF_SERVICE.has(f.type) };
    events.push(f.raised);
    later.push({ at: f.cleared.ts as number, channel: 'event', code: s.code, unit: s.unit, payload: f.cleared });
  }
  return { status: elevatorStatus(s, rng, now), events, later };
}

/** A fault (type by FAULT_WEIGHTS) raised at `now` and cleared 1 min to 3 h later, as the gateway reports it. */
export function faultEpisode(floor: number, now: number, rng: Rng, idFor: (ts: number) => string): { type: EventType; raised: EventIn; cleared: EventIn } {
  const type = rng.weighted(FAULTS, FAULT_WEIGHTS);
  const until = now + Math.round(Math.min(rng.exp(10 * MINUTE_MS) + MINUTE_MS, 3 * HOUR_MS));
  return { type, raised: { id: idFor(now), ts: now, type, state: 'raised', floor }, cleared: { id: idFor(until), ts: until, type, state: 'cleared', floor } };
}

function currentFloor(s: ElevatorState, now: number): number {
  const total = s.phaseEnd - s.phaseStart;
  const done = clamp((now - s.phaseStart) / total, 0, 1);
  return Math.round(s.floor + (s.to - s.floor) * done);
}

function elevatorStatus(s: ElevatorState, rng: Rng, now: number): StatusIn {
  const common = { id: messageId('st', s.code, now, ++s.seq), ts: now, runCount: s.runCount, runHours: Math.round(s.runHours * 10) / 10, doorCycles: s.doorCycles };
  if (s.fault) {
    const trapped = s.fault.type === 'entrapment';
    return {
      ...common, serviceMode: s.fault.outOfService ? 'out_of_service' : 'normal', carStatus: 'stopped', direction: 'none', floor: s.floor,
      doorZone: s.fault.type !== 'stopped_outside_door_zone' && !trapped, doorStatus: 'closed', passengers: trapped, speed: 0, load: trapped ? 0.2 : 0,
    };
  }
  const load = s.passengers ? Math.round(rng.range(0.05, 0.8) * 100) / 100 : 0;
  if (s.phase === 'running') {
    const total = (s.phaseEnd - s.phaseStart) / 1000;
    const t = (now - s.phaseStart) / 1000;
    const pos = s.floor + (s.to - s.floor) * clamp(t / total, 0, 1);
    const frac = Math.abs(pos - Math.round(pos));
    const speed = Math.round(s.ratedSpeed * clamp(Math.min(t, total - t) / 2, 0.05, 1) * 100) / 100;
    return { ...common, serviceMode: 'normal', carStatus: 'running', direction: s.to > s.floor ? 'up' : 'down', floor: Math.round(pos), doorZone: frac < 0.12, doorStatus: 'closed', passengers: s.passengers, speed, load };
  }
  const doorStatus = s.phase === 'idle' ? 'closed' : s.phase;
  return { ...common, serviceMode: 'normal', carStatus: 'stopped', direction: 'none', floor: s.floor, doorZone: true, doorStatus, passengers: s.phase !== 'idle' && s.passengers, speed: 0, load };
}

/**
 * An entrapment: the event raised now, rescue progress by the maintenance
 * unit (the same timing model as the backfill, `entrapmentRescue`:
 * dispatched within 0.5–4 min → arrived, usually 5–25 min later, about 12 %
 * more than 30 min after trapping → released 2–12 min after arrival; a few
 * false alarms) and the event cleared by the gateway 0.5–2 min after the
 * passengers are out. `speed` > 1 compresses every delay after `start` by
 * that factor (event times stay the times the messages are due); 1 = real
 * time, and the same random draws either way.
 */
export function entrapmentTimeline(code: string, unit: string, floor: number, start: number, rng: Rng, nextSeq: () => number, speed = 1) {
  const k = Math.max(1, speed);
  const at = (ts: number) => start + Math.round((ts - start) / k);
  const raised: EventIn = { id: messageId('ev', code, start, nextSeq()), ts: start, type: 'entrapment', state: 'raised', floor, detail: '轿厢内有人被困，已触发报警' };
  const rescues = entrapmentRescue(code, unit, start, rng, (ts) => messageId('rs', code, at(ts), nextSeq())).map((r) => ({ ...r, ts: at(r.ts as number) }));
  const clearAt = rescues[rescues.length - 1]!.ts as number + Math.round(rng.int(30_000, 120_000) / k);
  const later: Timed[] = rescues.map((r) => ({ at: r.ts as number, channel: 'rescue', code, unit, payload: r }));
  later.push({ at: clearAt, channel: 'event', code, unit, payload: { id: messageId('ev', code, clearAt, nextSeq()), ts: clearAt, type: 'entrapment', state: 'cleared', floor } });
  return { raised, later, clearAt };
}

// ------------------------------------------------------------------- gas

interface Leak { start: number; peak: number; rise: number; hold: number; fall: number }
interface Detector { id: string; base: number; leak: Leak | null }
export interface GasSiteState { code: string; gas: string; detectors: Detector[]; seq: number; lastSample: number }

export function initGasSite(site: SimGasSite, rng: Rng, now: number): GasSiteState {
  return { code: site.code, gas: site.gas, detectors: site.detectors.map((id) => ({ id, base: rng.range(0, 2.5), leak: null })), seq: 0, lastSample: now };
}

function leakLevel(l: Leak, t: number): number {
  const x = t - l.start;
  if (x < l.rise) return (l.peak * x) / l.rise;
  if (x < l.rise + l.hold) return l.peak;
  return Math.max(0, l.peak * (1 - (x - l.rise - l.hold) / l.fall));
}

/** One reading per detector of the site at `now`; a leak rises above 25 %LEL (sometimes 50) and falls again. */
export function gasReadings(s: GasSiteState, rng: Rng, now: number, rates: Rates = DEFAULT_RATES): ReadingIn[] {
  const dt = now - s.lastSample;
  s.lastSample = now;
  const temperatureC = Math.round(rng.normal(22, 3) * 10) / 10;
  return s.detectors.map((d) => {
    if (d.leak && now > d.leak.start + d.leak.rise + d.leak.hold + d.leak.fall) d.leak = null;
    if (!d.leak && happens(rng, rates.leaksPerDetectorDay, dt)) {
      const peak = rng.weighted([rng.range(10, 20), rng.range(26, 45), rng.range(50, 75)], [10, 65, 25]);
      d.leak = { start: now, peak, rise: rng.range(1, 5) * MINUTE_MS, hold: rng.range(2, 10) * MINUTE_MS, fall: rng.range(3, 15) * MINUTE_MS };
    }
    const noise = Math.abs(rng.normal(d.base, 0.6));
    const lel = clamp(Math.min(noise, 5) + (d.leak ? leakLevel(d.leak, now) : 0), 0, 100);
    return { id: messageId('gr', `${s.code}-${d.id}`, now, ++s.seq), ts: now, detector: d.id, lel: Math.round(lel * 10) / 10, gas: s.gas, temperatureC };
  });
}

// -------------------------------------------------------------- fillings

interface Cylinder { code: string; manufactured: string; nextInspectionDue: string; scrapDue: string; netKg: number }
export interface StationState { code: string; cylinders: Cylinder[]; points: number; seq: number }

/** A filling station's pool of cylinders; a few are past inspection or scrap date. */
export function initStation(site: SimGasSite, rng: Rng, today: string, poolSize = 300): StationState {
  const cylinders: Cylinder[] = [];
  for (let i = 1; i <= poolSize; i++) {
    const ageDays = rng.chance(0.015) ? rng.int(8 * 365 + 5, 9 * 365) : rng.int(60, 8 * 365 - 10);
    const manufactured = addDays(today, -ageDays);
    // Inspected every 4 years; a few have missed their inspection.
    const cycles = Math.ceil((ageDays + 1) / (4 * 365));
    const overdue = rng.chance(0.04);
    const nextInspectionDue = overdue ? addDays(today, -rng.int(1, 200)) : addDays(manufactured, cycles * 4 * 365);
    cylinders.push({
      code: `CY-${site.code}-${String(i).padStart(5, '0')}`, manufactured, nextInspectionDue, scrapDue: addDays(manufactured, 8 * 365),
      netKg: rng.weighted([14.5, 49.5, 5], [80, 12, 8]),
    });
  }
  return { code: site.code, cylinders, points: rng.int(2, 6), seq: 0 };
}

export function filling(s: StationState, rng: Rng, now: number): FillingIn {
  const c = rng.pick(s.cylinders);
  return {
    id: messageId('fl', s.code, now, ++s.seq), ts: now, cylinder: c.code, medium: 'LPG', manufactured: c.manufactured,
    nextInspectionDue: c.nextInspectionDue, scrapDue: c.scrapDue, netKg: Math.round(c.netKg * rng.range(0.985, 1.01) * 10) / 10,
    station: `${rng.int(1, s.points)}号充装枪`, operator: personName(rng),
  };
}
