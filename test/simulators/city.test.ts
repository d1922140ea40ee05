// The simulated city: deterministic for a seed, valid under the protocol's
// own schemas, and shaped like the real thing (pass rates around 70 %,
// maintenance about every 15 days).
import { describe, expect, it } from 'vitest';
import { SCHEMAS, parseTopic } from '../../domain/channels.js';
import { backfillRecords } from '../../simulators/backfill.js';
import { generateCity } from '../../simulators/city.js';

const opts = { seed: 7, elevators: 400, units: 12, gasSites: 10 };

describe('simulated city', () => {
  it('is the same city for the same seed, and another for another seed', () => {
    expect(JSON.stringify(generateCity(opts))).toBe(JSON.stringify(generateCity(opts)));
    expect(JSON.stringify(generateCity({ ...opts, seed: 8 }))).not.toBe(JSON.stringify(generateCity(opts)));
  });

  it('binds every elevator and gas site to exactly one gateway', () => {
    const city = generateCity(opts);
    const bound = city.gateways.flatMap((g) => [...g.elevators, ...g.gasSites]);
    expect(new Set(bound).size).toBe(bound.length);
    expect(bound.length).toBe(city.elevators.length + city.gasSites.length);
  });

  it('backfills a year of records that all pass the protocol schemas, with unique ids, in event time', () => {
    const city = generateCity(opts);
    const to = Date.UTC(2026, 0, 1);
    const from = to - 365 * 86_400_000;
    const counts: Record<string, number> = {};
    const ids = new Set<string>();
    const firstAttempts = new Map<string, { n: number; pass: number }>();
    for (const { topic, payload } of backfillRecords(city, { seed: 7, from, to })) {
      const route = parseTopic(topic)!;
      const parsed = SCHEMAS[route.channel].parse(payload) as { id: string; ts: number; unit?: string; kind?: string; attempt?: number; result?: string };
      expect(parsed.ts).toBeGreaterThanOrEqual(from);
      expect(parsed.ts).toBeLessThanOrEqual(to);
      expect(ids.has(`${route.channel}:${parsed.id}`)).toBe(false);
      ids.add(`${route.channel}:${parsed.id}`);
      const key = route.channel === 'maintenance' && parsed.kind === 'repair' ? 'repair' : route.channel;
      counts[key] = (counts[key] ?? 0) + 1;
      if (route.channel === 'inspection' && parsed.kind === 'periodic' && parsed.attempt === 1) {
        const u = firstAttempts.get(parsed.unit!) ?? { n: 0, pass: 0 };
        u.n++;
        if (parsed.result === 'pass') u.pass++;
        firstAttempts.set(parsed.unit!, u);
      }
    }
    // about one routine maintenance per elevator every 15 days (some units late), one periodic inspection a year
    expect(counts.maintenance! / opts.elevators).toBeGreaterThan(18);
    expect(counts.maintenance! / opts.elevators).toBeLessThan(27); // gaps average 13.5 days or more
    expect(counts.inspection! / opts.elevators).toBeGreaterThan(0.9);
    expect(counts.complaint).toBeGreaterThan(0);
    // per-unit first-inspection pass rates spread around 70 %
    const rates = [...firstAttempts.values()].map((u) => u.pass / u.n);
    const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
    expect(mean).toBeGreaterThan(0.6);
    expect(mean).toBeLessThan(0.85);
    expect(Math.min(...rates)).toBeLessThan(0.7);
    expect(Math.max(...rates)).toBeGreaterThan(0.7);
  });
});
