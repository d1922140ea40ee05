// The demo city's hazards, published through the service's ingest as the
// demo's partners: all accepted (no dead letter), some rectified, some
// overdue, a few major (one still open, with its alert), the same for the
// same seed, and re-publishing changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCity, registerCity } from '../../simulators/city.js';
import { seedDemoHazards } from '../../simulators/demo-hazards.js';
import { api, quietLog, startTestService, type TestService } from '../helpers.js';

let s: TestService;
const NOW = Date.now();

beforeAll(async () => {
  s = await startTestService();
  registerCity(s.registry, generateCity({ seed: 3, elevators: 400, units: 8, gasSites: 4 }));
}, 60_000);
afterAll(async () => s?.cleanup());

const snapshot = () => s.hazards.list({ pageSize: 500, sort: 'foundAt' }).items.map((h) => `${h.id}:${h.level}:${h.state}:${h.rectifiedAt ?? ''}`);

describe('demo hazards', () => {
  it('publishes realistic hazards through ingest: rectified, overdue and major ones, all accepted', async () => {
    const published = await seedDemoHazards(s, quietLog, { seed: 3, now: NOW });
    await s.ingest.drained();
    expect((await api(s, 'GET', '/api/v1/dead-letters')).body.total).toBe(0);
    const all = s.hazards.list({ pageSize: 500 });
    expect(all.total).toBe(16); // 400 elevators / 25
    const rectified = s.hazards.list({ state: 'rectified' }).total;
    expect(published).toBe(16 + rectified);
    expect(rectified).toBeGreaterThanOrEqual(4);
    expect(s.hazards.list({ state: 'overdue' }).total).toBeGreaterThanOrEqual(1);
    expect(s.hazards.list({ state: 'open' }).total).toBeGreaterThanOrEqual(1);
    expect(s.hazards.list({ level: 'major' }).total).toBeGreaterThanOrEqual(3);
    expect(s.hazards.get('DEMO-HZ-0001')).toMatchObject({ level: 'major', state: 'open' });
    expect(s.alerts.list({ type: 'major_hazard', state: 'active' }).total).toBeGreaterThanOrEqual(1);
    expect(s.hazards.store.unmatched().total).toBe(0);
    expect(new Set(all.items.map((h) => h.source))).toEqual(new Set(['self_inspection', 'inspection']));
  });

  it('is the same for the same seed: publishing again changes nothing', async () => {
    const before = snapshot();
    await seedDemoHazards(s, quietLog, { seed: 3, now: NOW });
    await s.ingest.drained();
    expect(snapshot()).toEqual(before);
  });
});
