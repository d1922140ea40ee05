// The status fast path must agree with the schema: whatever it accepts, the
// schema accepts with the very same record; what it declines (undefined) goes
// to the schema. Checked on many generated objects, valid and not, canonical
// and not, from a fixed seed.
import { describe, expect, it } from 'vitest';
import { fastStatus } from '../../domain/fast-status.js';
import { statusSchema } from '../../domain/messages.js';
import { buildPoint, toPoint } from '../../storage/points.js';
import { Rng } from '../../simulators/random.js';

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;

const VALUES: Record<string, readonly unknown[]> = {
  id: ['s-1', 'x'.repeat(64), 'x'.repeat(65), '', 7],
  ts: [1_700_000_000_000, 0, -1, 1.5, '2026-01-01T00:00:00+08:00', 2 ** 60, 'now'],
  serviceMode: ['normal', 'inspection', 'unknown', 1, 9, 'Normal'],
  carStatus: ['stopped', 'running', 0, 'moving'],
  direction: ['none', 'up', 'down', 2, 'sideways'],
  floor: [3, -20, 300, 301, -21, 2.5, '3'],
  doorZone: [true, false, 0, 1, 'yes'],
  doorStatus: ['closed', 'open', 'unknown', 3, 'ajar'],
  passengers: [true, false, 1, null],
  speed: [1.5, 0, 30, 31, -1],
  load: [0.5, 3, 3.1],
  runCount: [10, 1.5, -1],
  runHours: [0.25, -0.1],
  doorCycles: [5, 2.5],
};
const OPTIONAL = ['speed', 'load', 'runCount', 'runHours', 'doorCycles'];

/** A canonical valid status, then none to three fields changed to any listed value (valid or not), sometimes an extra or a missing key. */
function generate(rng: Rng): Record<string, unknown> {
  const o: Record<string, unknown> = { id: 's-1', ts: 1_700_000_000_000, serviceMode: 'normal', carStatus: 'running', direction: 'up', floor: 3, doorZone: false, doorStatus: 'closed', passengers: true };
  for (const k of OPTIONAL) if (rng.next() < 0.3) o[k] = VALUES[k]![0];
  const changes = Math.floor(rng.next() * 4);
  for (let c = 0; c < changes; c++) {
    const k = pick(rng, Object.keys(VALUES));
    o[k] = pick(rng, VALUES[k]!);
  }
  if (rng.next() < 0.05) o.extra = 'field';
  if (rng.next() < 0.05) delete o[pick(rng, Object.keys(o))];
  return o;
}

describe('the status fast path', () => {
  it('accepts only what the schema accepts, with the same record, and takes the canonical messages', () => {
    const rng = new Rng(14);
    let fast = 0;
    let declined = 0;
    for (let i = 0; i < 20_000; i++) {
      const o = generate(rng);
      const f = fastStatus(o);
      const z = statusSchema.safeParse(o);
      if (f === undefined) {
        declined += 1;
        continue;
      }
      fast += 1;
      expect(z.success, JSON.stringify(o)).toBe(true);
      expect(f).toStrictEqual(z.data);
    }
    expect(fast).toBeGreaterThan(100);
    expect(declined).toBeGreaterThan(1000);
    // a canonical message, with every optional measurement, is taken
    const canonical = { id: 'a', ts: 1, serviceMode: 'normal', carStatus: 'running', direction: 'up', floor: 3, doorZone: false, doorStatus: 'closed', passengers: true, speed: 1, load: 0.5, runCount: 1, runHours: 2, doorCycles: 3 };
    expect(fastStatus(canonical)).toStrictEqual(statusSchema.parse(canonical));
  });

  it('gives every valid status the same InfluxDB line through the status template as through the general builder', () => {
    const rng = new Rng(15);
    let compared = 0;
    for (let i = 0; i < 20_000; i++) {
      const o = generate(rng);
      if (rng.next() < 0.2) o.id = pick(rng, ['a "quoted" id', 'back\\slash', 'two\nlines', '点-1']);
      const z = statusSchema.safeParse(o);
      if (!z.success) continue;
      const item = { channel: 'status' as const, record: z.data };
      const ctx = pick(rng, [{ district: '大祥区', unit: 'MU1' }, {}, { district: 'a b,c=d' }]);
      const [code, sender] = [pick(rng, ['E1', 'E 2,x=y']), pick(rng, ['GW1', 'G"W'])];
      expect(toPoint(item, code, ctx, sender)).toEqual(buildPoint(item, code, ctx, sender));
      compared += 1;
    }
    expect(compared).toBeGreaterThan(5000);
  });
});
