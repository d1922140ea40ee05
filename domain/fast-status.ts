// A validation fast path for the commonest message, an elevator's `status`
// in its canonical form (enumerations by name, booleans, ts in epoch ms):
// checked field by field without zod, allocating only the record itself.
// Anything else — numeric codes, 0/1 flags, RFC 3339 times, unknown keys,
// any invalid value — returns undefined and goes through statusSchema, which
// also writes the per-field messages of a dead letter. The record it returns
// is what statusSchema.parse returns for the same object (tested).
import { SERVICE_MODES, type Status } from './messages.js';

const MODES = new Set<string>(SERVICE_MODES);
const CAR = new Set(['stopped', 'running']);
const DIRECTION = new Set(['none', 'up', 'down']);
const DOOR = new Set(['closed', 'opening', 'open', 'closing', 'unknown']);
const KEYS = new Set(['id', 'ts', 'serviceMode', 'carStatus', 'direction', 'floor', 'doorZone', 'doorStatus', 'passengers', 'speed', 'load', 'runCount', 'runHours', 'doorCycles']);

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v); // zod's int() is a safe integer

export function fastStatus(o: Record<string, unknown>): Status | undefined {
  let n = 0;
  for (const k in o) {
    if (!KEYS.has(k)) return undefined;
    n += 1;
  }
  const { id, ts, serviceMode, carStatus, direction, floor, doorZone, doorStatus, passengers } = o;
  if (typeof id !== 'string' || id.length < 1 || id.length > 64) return undefined;
  if (!int(ts) || ts < 0) return undefined;
  if (typeof serviceMode !== 'string' || !MODES.has(serviceMode)) return undefined;
  if (typeof carStatus !== 'string' || !CAR.has(carStatus)) return undefined;
  if (typeof direction !== 'string' || !DIRECTION.has(direction)) return undefined;
  if (!int(floor) || floor < -20 || floor > 300) return undefined;
  if (typeof doorZone !== 'boolean' || typeof passengers !== 'boolean') return undefined;
  if (typeof doorStatus !== 'string' || !DOOR.has(doorStatus)) return undefined;
  const r = { id, ts, serviceMode, carStatus, direction, floor, doorZone, doorStatus, passengers } as Status;
  if (n === 9) return r;
  // the optional measurements, each checked as the schema does
  const { speed, load, runCount, runHours, doorCycles } = o;
  if (speed !== undefined) {
    if (!num(speed) || speed < 0 || speed > 30) return undefined;
    r.speed = speed;
  }
  if (load !== undefined) {
    if (!num(load) || load < 0 || load > 3) return undefined;
    r.load = load;
  }
  if (runCount !== undefined) {
    if (!int(runCount) || runCount < 0) return undefined;
    r.runCount = runCount;
  }
  if (runHours !== undefined) {
    if (!num(runHours) || runHours < 0) return undefined;
    r.runHours = runHours;
  }
  if (doorCycles !== undefined) {
    if (!int(doorCycles) || doorCycles < 0) return undefined;
    r.doorCycles = doorCycles;
  }
  return r;
}
