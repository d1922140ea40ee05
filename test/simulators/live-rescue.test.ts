// Live entrapments are followed by rescue progress, as in a real city: the
// maintenance unit's partner publishes dispatched / arrived / released at
// their event times (the backfill's timing model) and the gateway clears the
// event. The live run drives a real service with the timeline compressed
// (rescueSpeed, DEMO_RESCUE_SPEED in the demo) so it takes seconds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entrapmentRescue, entrapmentTimeline, messageId } from '../../simulators/behaviour.js';
import { generateCity, registerCity } from '../../simulators/city.js';
import { runGateways, type RunningGateways } from '../../simulators/gateways.js';
import { Rng } from '../../simulators/random.js';
import { api, count, quietLog, startTestService, waitFor, type TestService } from '../helpers.js';

const MIN = 60_000;
const counter = () => {
  let n = 0;
  return () => ++n;
};

describe('entrapment timeline (pure)', () => {
  const start = Date.UTC(2026, 4, 1, 2, 0, 0);

  it('is the backfill\'s rescue timing model, deterministic for a seed, then the gateway clears the event', () => {
    const a = entrapmentTimeline('E00001', 'MU001', 5, start, new Rng(42), counter());
    const b = entrapmentTimeline('E00001', 'MU001', 5, start, new Rng(42), counter());
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    // the same draws as the backfill's rescues for the same stream
    const seq = counter();
    seq(); // the raised event's id
    const backfill = entrapmentRescue('E00001', 'MU001', start, new Rng(42), (ts) => messageId('rs', 'E00001', ts, seq()));
    const rescues = a.later.filter((t) => t.channel === 'rescue').map((t) => t.payload);
    expect(rescues).toEqual(backfill);
    expect(a.raised).toMatchObject({ ts: start, type: 'entrapment', state: 'raised', floor: 5 });
    const clear = a.later[a.later.length - 1]!;
    expect(clear).toMatchObject({ channel: 'event', at: a.clearAt, payload: { type: 'entrapment', state: 'cleared', ts: a.clearAt } });
    expect(a.clearAt).toBeGreaterThan(rescues[rescues.length - 1]!.ts as number);
  });

  it('dispatches within 0.5–4 min, arrives mostly within 30 min (about 12 % later), releases 2–12 min after arrival', () => {
    const rng = new Rng(7);
    let late = 0;
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const t = entrapmentTimeline('E1', 'MU1', 1, start, rng, counter());
      const [d, ar, done] = t.later.filter((x) => x.channel === 'rescue').map((x) => x.payload as { ts: number; stage: string });
      expect([d!.stage, ar!.stage]).toEqual(['dispatched', 'arrived']);
      expect(d!.ts - start).toBeGreaterThanOrEqual(0.5 * MIN);
      expect(d!.ts - start).toBeLessThanOrEqual(4 * MIN);
      const arrival = ar!.ts - start;
      if (arrival > 30 * MIN) {
        late++;
        expect(arrival).toBeGreaterThanOrEqual(31 * MIN);
      } else {
        expect(arrival).toBeGreaterThanOrEqual(5 * MIN);
      }
      if (done!.stage === 'released') {
        expect(done!.ts - ar!.ts).toBeGreaterThanOrEqual(2 * MIN);
        expect(done!.ts - ar!.ts).toBeLessThanOrEqual(12 * MIN);
      } else {
        expect(done!.stage).toBe('false_alarm');
      }
      expect(t.clearAt - done!.ts).toBeGreaterThanOrEqual(30_000);
      expect(t.clearAt - done!.ts).toBeLessThanOrEqual(120_000);
    }
    expect(late / n).toBeGreaterThan(0.09);
    expect(late / n).toBeLessThan(0.15);
  });

  it('compresses the same timeline by a speed factor', () => {
    const real = entrapmentTimeline('E1', 'MU1', 3, start, new Rng(9), counter());
    const fast = entrapmentTimeline('E1', 'MU1', 3, start, new Rng(9), counter(), 300);
    expect(fast.raised).toEqual(real.raised);
    expect(fast.later.map((t) => (t.payload as { stage?: string; state?: string }).stage ?? (t.payload as { state: string }).state))
      .toEqual(real.later.map((t) => (t.payload as { stage?: string; state?: string }).stage ?? (t.payload as { state: string }).state));
    fast.later.slice(0, -1).forEach((t, i) => {
      expect(t.at).toBe(start + Math.round((real.later[i]!.at - start) / 300));
      expect(t.payload.ts).toBe(t.at);
    });
    expect(fast.clearAt - start).toBeLessThan((real.clearAt - start) / 299);
  });
});

describe('live gateways against a real service, rescue timeline compressed', () => {
  const SPEED = 300;
  const ARRIVAL_S = 1800 / SPEED; // the 30-minute arrival limit, compressed alike
  let s: TestService;
  let live: RunningGateways | undefined;

  beforeAll(async () => {
    s = await startTestService({ ENTRAPMENT_ARRIVAL_S: String(ARRIVAL_S), ALERT_CHECK_MS: '100' });
  });
  afterAll(async () => {
    await live?.stop();
    await s?.cleanup();
  });

  it('follows each entrapment with dispatched / arrived / released records and the gateway\'s clear; the rescue timings fill in', async () => {
    const city = generateCity({ seed: 5, elevators: 8, units: 2, gasSites: 0, elevatorsPerGateway: 4, today: '2026-05-01' });
    const secrets = registerCity(s.registry, city);
    live = await runGateways({
      mqttUrl: `mqtt://127.0.0.1:${s.mqttPort}`, city, secrets, seed: 5, log: quietLog, ratePerSecond: 40, summaryEveryMs: 0,
      // entrapments at once on every elevator (checked before other faults), rescued 300 × faster than life
      eventBoost: 1e9, rescueSpeed: SPEED, recordSpeed: 1,
    });

    type Entrapment = { alertId: number; elevator: string; unit: string; state: string; trappedAt: number; dispatchedAt: number | null; arrivedAt: number | null; releasedAt: number | null; overdueArrival: boolean };
    const rescued = (o: { body: { entrapmentsToday?: Entrapment[] } }) =>
      (o.body.entrapmentsToday ?? []).filter((e) => e.state === 'resolved' && e.dispatchedAt !== null && e.arrivedAt !== null && e.releasedAt !== null);
    const o = await waitFor(() => api(s, 'GET', '/api/v1/overview'), (r) => rescued(r).length >= 3, 45_000);

    for (const e of rescued(o)) {
      // in event time, compressed by SPEED: dispatched within 0.5–4 min, released 1–12 min after arrival (false alarms from 1)
      expect(e.dispatchedAt! - e.trappedAt).toBeGreaterThanOrEqual((0.5 * MIN) / SPEED - 1);
      expect(e.dispatchedAt! - e.trappedAt).toBeLessThanOrEqual((4 * MIN) / SPEED + 1);
      expect(e.arrivedAt! - e.trappedAt).toBeGreaterThanOrEqual((5 * MIN) / SPEED);
      expect(e.arrivedAt! - e.trappedAt).toBeLessThanOrEqual((60 * MIN) / SPEED);
      expect(e.releasedAt! - e.arrivedAt!).toBeGreaterThanOrEqual(MIN / SPEED - 1);
      expect(e.releasedAt! - e.arrivedAt!).toBeLessThanOrEqual((12 * MIN) / SPEED + 1);
      expect(e.overdueArrival).toBe(e.arrivedAt! - e.trappedAt > ARRIVAL_S * 1000);
      expect(e.unit).toBe(city.elevators.find((x) => x.code === e.elevator)!.maintenanceUnit);
      const alert = (await api(s, 'GET', `/api/v1/alerts/${e.alertId}`)).body as { state: string; resolution: string; resolvedAt: number; escalation: number };
      expect(alert.state).toBe('resolved');
      expect(['released', 'false_alarm']).toContain(alert.resolution);
      expect(alert.resolvedAt).toBe(e.releasedAt);
      // a late arrival escalates before it comes (a margin for the 100 ms check)
      if (e.arrivedAt! - e.trappedAt > ARRIVAL_S * 1000 + 1000) expect(alert.escalation).toBeGreaterThanOrEqual(1);
    }

    // the gateway cleared the entrapment after the release
    const elevator = rescued(o)[0]!.elevator;
    await waitFor(() => count(s, 'elevator_event', `WHERE "elevator" = '${elevator}' AND "type" = 'entrapment' AND "state" = 'cleared'`), (n) => n >= 1, 15_000);
    // every rescue record was accepted, from the maintenance units' partners
    expect(live.stats().published.rescue).toBeGreaterThanOrEqual(9);
    const dead = (await api(s, 'GET', '/api/v1/dead-letters')).body as { total: number; countsByReason: Record<string, number> };
    expect(dead.total).toBe(0);
  });
});
