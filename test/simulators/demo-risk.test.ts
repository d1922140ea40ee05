// The demo's risk levels and spot-check draw on the real service: every
// elevator dated, one draw in the inspectors' districts with results, the
// same draw from the same city seed, nothing drawn again on a restart.
import { afterAll, describe, expect, it } from 'vitest';
import { startTestService, quietLog, type TestService } from '../helpers.js';
import { generateCity, registerCity } from '../../simulators/city.js';
import { seedDemoSpotCheck } from '../../simulators/demo-risk.js';

const services: TestService[] = [];
afterAll(async () => {
  for (const s of services) await s.cleanup();
});

async function demoService(): Promise<TestService> {
  const s = await startTestService();
  services.push(s);
  registerCity(s.registry, generateCity({ seed: 3, elevators: 200, units: 8, gasSites: 0, today: '2026-06-01' }));
  await s.accounts.create({ username: 'insp', role: 'inspector', districts: ['大祥区', '双清区'], password: 'demo-password-1' });
  return s;
}

describe('demo risk and spot check', () => {
  it('dates every elevator, draws once in the inspectors\' districts with results, reproducibly', async () => {
    const a = await demoService();
    await seedDemoSpotCheck(a, quietLog, 3);
    expect([...a.registry.elevators.items.values()].every((e) => /^\d{4}-\d{2}-\d{2}$/.test(e.installedOn ?? ''))).toBe(true);
    const draws = a.spotChecks.draws();
    expect(draws.total).toBe(1);
    const { draw, checks } = a.spotChecks.get(draws.items[0]!.id)!;
    expect(checks).toHaveLength(10);
    for (const c of checks) expect(['大祥区', '双清区']).toContain(c.district);
    expect(checks.filter((c) => c.result !== null)).toHaveLength(6);
    expect(a.spotChecks.published()).toHaveLength(6);
    await seedDemoSpotCheck(a, quietLog, 3);
    expect(a.spotChecks.draws().total).toBe(1); // not again on a restart

    const b = await demoService();
    await seedDemoSpotCheck(b, quietLog, 3);
    const again = b.spotChecks.get(b.spotChecks.draws().items[0]!.id)!;
    expect(again.draw.seed).toBe(draw.seed);
    expect(again.checks.map((c) => c.code)).toEqual(checks.map((c) => c.code));
  });
});
