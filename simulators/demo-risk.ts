// The demo city's risk levels and one double-random spot-check draw: every
// elevator gets an installation date (deterministic from its code, 1998–2025,
// so age counts in its level), then, on a service without draws, one draw of
// ten elevators in the districts the demo inspectors work in, with the seed
// derived from the city's, and results recorded for the first six checks.
import type { Logger } from 'pino';
import type { Service } from '../service/service.js';
import { fnv1a } from '../storage/points.js';
import { mulberry32 } from '../supervision/spot-checks.js';
import { candidates } from '../supervision/spot-check-routes.js';
import { addDays, cstDate } from '../domain/time.js';

const PROBLEMS = ['轿厢应急照明失效', '层门门锁啮合长度不足', '维保记录与现场不符', '限速器校验过期'];

export async function seedDemoSpotCheck(service: Service, log: Logger, seed = 1): Promise<void> {
  const { registry, risk, spotChecks, accounts } = service;
  let dated = 0;
  for (const e of [...registry.elevators.items.values()]) {
    if (e.installedOn) continue;
    const h = fnv1a(e.code);
    registry.elevators.put({ ...e, installedOn: `${1998 + (h % 28)}-${String(1 + ((h >>> 8) % 12)).padStart(2, '0')}-${String(1 + ((h >>> 16) % 28)).padStart(2, '0')}` });
    dated++;
  }
  if (dated) risk.invalidate();
  const snapshot = await risk.current();
  const levels = { high: 0, elevated: 0, general: 0, low: 0 };
  for (const i of snapshot.items) levels[i.level]++;
  log.info({ ...levels, elevators: snapshot.items.length, tookMs: snapshot.tookMs }, 'demo risk levels');
  if (spotChecks.draws({ pageSize: 1 }).total > 0) return;

  const inspectors = accounts.list().filter((u) => u.role === 'inspector' && !u.disabled).map((u) => ({ username: u.username, districts: u.districts }));
  const districts = [...new Set(inspectors.flatMap((i) => i.districts))];
  if (!districts.length) {
    log.warn('no demo inspector: no spot-check draw');
    return;
  }
  const today = cstDate(Date.now());
  const from = `${today.slice(0, 7)}-01`;
  const to = `${addDays(from, 31).slice(0, 7)}-01`;
  const drawSeed = (Math.imul(seed, 2654435761) ^ 0x5eed) >>> 0;
  const { draw, checks } = spotChecks.draw({ n: 10, from, to, districts, seed: drawSeed }, { candidates: await candidates(risk, registry), inspectors, by: 'demo' });
  const rand = mulberry32(drawSeed);
  for (const c of checks.slice(0, 6)) {
    const bad = rand() < 0.4;
    spotChecks.record(c.id, { result: bad ? 'problems' : 'passed', checkedOn: today, ...(bad ? { problems: PROBLEMS[Math.floor(rand() * PROBLEMS.length)] } : {}) }, c.inspector);
  }
  log.info({ draw: draw.id, seed: draw.seed, drawn: checks.map((c) => `${c.code}(${c.level})→${c.inspector}`).join(', ') }, 'demo spot-check draw');
}
