// The demo city is a believable year: a fifth to a third of its units on the
// interview list (the real city summoned 24, not nearly all), faults,
// dangerous faults and entrapments with their rescues, periodic inspections
// now and then late, and a recent history of status and gas readings that
// the live gateways carry on from.
import { describe, expect, it } from 'vitest';
import { parseTopic, SCHEMAS } from '../../domain/channels.js';
import { cstMidnight, DAY_MS, HOUR_MS } from '../../domain/time.js';
import { backfillRecords, type BackfillRecord } from '../../simulators/backfill.js';
import { generateCity } from '../../simulators/city.js';
import { TelemetryHistory } from '../../simulators/history.js';
import { expectedList } from './expected-list.js';

// The demo's defaults (DEMO_ELEVATORS, DEMO_UNITS, DEMO_GAS_SITES, DEMO_SEED), on a fixed day.
const DEMO = { elevators: 2000, units: 40, gasSites: 60, today: '2026-11-29' };
const period = { from: '2025-01-01', to: '2026-01-01' };
const demoBackfill = { from: cstMidnight('2025-01-01'), to: cstMidnight(DEMO.today) };
const DANGEROUS = new Set(['unintended_car_movement', 'overspeed', 'door_open_while_running', 'overtravel_top', 'overtravel_bottom']);

describe('the demo city', () => {
  it('names a fifth to a third of its units on the interview list, for the default seed and on average over seeds', () => {
    const shares = [1, 2, 3, 4, 5, 6].map((seed) => {
      const city = generateCity({ seed, ...DEMO });
      return expectedList(city, seed, period, demoBackfill).listed.size / city.units.length;
    });
    expect(shares[0]).toBeGreaterThanOrEqual(1 / 5);
    expect(shares[0]).toBeLessThanOrEqual(1 / 3);
    const mean = shares.reduce((a, b) => a + b, 0) / shares.length;
    expect(mean).toBeGreaterThanOrEqual(1 / 5);
    expect(mean).toBeLessThanOrEqual(1 / 3);
  }, 60_000);

  it('backfills faults, dangerous ones among them, and entrapments raised before their rescue records and cleared after them', () => {
    const city = generateCity({ seed: 3, elevators: 500, units: 10, gasSites: 0, today: '2026-03-01' });
    const to = cstMidnight('2026-01-01');
    const from = to - 365 * DAY_MS;
    const records = [...backfillRecords(city, { seed: 3, from, to })];
    const byChannel = (ch: string) => records.filter((r) => parseTopic(r.topic)!.channel === ch);
    const events = byChannel('event');
    for (const r of events) SCHEMAS.event.parse(r.payload);
    const raised = events.map((r) => r.payload as { type: string; state: string }).filter((e) => e.state === 'raised');
    const faults = raised.filter((e) => e.type !== 'entrapment');
    const dangerous = faults.filter((e) => DANGEROUS.has(e.type));
    const entrapments = raised.filter((e) => e.type === 'entrapment');
    // per 100 elevators a year: faults in the hundreds, a few dangerous ones, entrapments near the 96333 figures (about 5–15)
    expect(faults.length / 5).toBeGreaterThan(150);
    expect(dangerous.length / 5).toBeGreaterThan(2);
    expect(dangerous.length / 5).toBeLessThan(25);
    expect(entrapments.length / 5).toBeGreaterThan(4);
    expect(entrapments.length / 5).toBeLessThan(20);

    // Each entrapment: raised (posted at once), then dispatched/arrived/released, then cleared (after the rescue records are posted).
    const rescueTopic = 'se/v1/records/rescue';
    const byElevator = new Map<string, BackfillRecord[]>();
    for (const r of records) {
      const p = r.payload as { type?: string; elevator?: string };
      const route = parseTopic(r.topic)!;
      const code = r.topic === rescueTopic ? p.elevator! : p.type === 'entrapment' ? route.equipment?.code : null;
      if (code) byElevator.set(code, [...(byElevator.get(code) ?? []), r]);
    }
    let chains = 0;
    for (const seq of byElevator.values()) {
      for (let i = 0; i < seq.length; i++) {
        const p = seq[i]!.payload as { state?: string; stage?: string };
        if (p.state !== 'raised') continue;
        chains++;
        expect(seq[i]!.sendNow).toBe(true);
        expect(seq.slice(i + 1, i + 4).map((r) => (r.payload as { stage: string }).stage)).toEqual(['dispatched', 'arrived', expect.stringMatching(/^(released|false_alarm)$/)]);
        expect(seq[i + 4]!.payload).toMatchObject({ state: 'cleared', type: 'entrapment' });
        expect(seq[i + 4]!.after).toBe(rescueTopic);
      }
    }
    expect(chains).toBe(entrapments.length);
  }, 60_000);

  it('makes some periodic inspections late: passed after the due date the previous pass set', () => {
    const city = generateCity({ seed: 3, elevators: 500, units: 10, gasSites: 0, today: '2026-11-29' });
    const from = cstMidnight('2025-01-01');
    const passes = new Map<string, { ts: number; nextDue: string }[]>();
    for (const { topic, payload } of backfillRecords(city, { seed: 3, from, to: cstMidnight('2026-11-29'), inspectionsFrom: from - 400 * DAY_MS })) {
      const r = payload as { ts: number; elevator: string; result?: string; nextDue?: string };
      if (!topic.endsWith('/inspection') || r.result !== 'pass') continue;
      expect(r.ts).toBeGreaterThanOrEqual(from - 400 * DAY_MS);
      passes.set(r.elevator, [...(passes.get(r.elevator) ?? []), { ts: r.ts, nextDue: r.nextDue! }]);
    }
    let late = 0;
    let cycles = 0;
    for (const p of passes.values()) {
      for (let i = 1; i < p.length; i++) {
        cycles++;
        if (p[i]!.ts >= cstMidnight(p[i - 1]!.nextDue) + DAY_MS) late++;
      }
    }
    // a few per cent of the cycles, as the registry's own overdue elevators
    expect(late / cycles).toBeGreaterThan(0.01);
    expect(late / cycles).toBeLessThan(0.15);
  }, 60_000);

  it('has a recent history of status and gas readings within the budget, ending at `to`, that the live states carry on', () => {
    const city = generateCity({ seed: 5, elevators: 200, units: 5, gasSites: 4, today: '2026-11-29' });
    const to = Date.UTC(2026, 10, 29, 4);
    const history = new TelemetryHistory(city, { seed: 5, from: to - 24 * HOUR_MS, statusBudget: 10_000 });
    const byTopic = new Map<string, { ts: number; runCount?: number }[]>();
    let sentNow = 0;
    for (const r of history.until(to)) {
      const route = parseTopic(r.topic)!;
      SCHEMAS[route.channel].parse(r.payload);
      byTopic.set(r.topic, [...(byTopic.get(r.topic) ?? []), r.payload as { ts: number; runCount?: number }]);
      if (r.sendNow) sentNow++;
    }
    expect(sentNow).toBe(city.elevators.length + city.gasSites.length); // one batch per piece of equipment
    const status = [...byTopic].filter(([t]) => t.endsWith('/status'));
    expect(status.length).toBe(city.elevators.length);
    const total = status.reduce((n, [, s]) => n + s.length, 0);
    expect(total).toBeGreaterThan(8_000);
    expect(total).toBeLessThan(12_000);
    for (const [, s] of status) {
      expect(s.at(-1)!.ts).toBe(to);
      for (let i = 1; i < s.length; i++) {
        expect(s[i]!.ts).toBeGreaterThan(s[i - 1]!.ts);
        expect(s[i]!.runCount!).toBeGreaterThanOrEqual(s[i - 1]!.runCount!);
      }
    }
    expect([...byTopic.keys()].filter((t) => t.endsWith('/reading')).length).toBe(city.gasSites.length);
    // A top-up continues each elevator: one more sample at the new end, counters where the history left them.
    const e = city.elevators[0]!;
    const last = byTopic.get(`se/v1/elevator/${e.code}/status`)!.at(-1)!;
    const more = [...history.until(to + 60_000)].filter((r) => r.topic === `se/v1/elevator/${e.code}/status`);
    expect(more.map((r) => r.payload.ts)).toEqual([to + 60_000]);
    expect((more[0]!.payload as { runCount: number }).runCount).toBeGreaterThanOrEqual(last.runCount!);
    expect(history.states.elevators.get(e.code)!.lastSample).toBe(to + 60_000);
  });
});
