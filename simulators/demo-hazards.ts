// Demo hazards (隐患) for the demo city: about one hazard per 25 elevators over
// the last 90 days, found by the maintenance units' self-inspections and by
// the inspection institute, most rectified in time, some late, some still
// open and overdue, a few major ones (one still open, so its alert shows).
// Published through the normal ingest path: appended to the service's spool
// as the demo's partners (the same as an HTTP POST by them), in batches.
// Deterministic for the seed; fixed ids, so a restart re-sends duplicates
// that change nothing.
import type { Logger } from 'pino';
import { topics } from '../domain/channels.js';
import type { HazardIn } from '../domain/messages.js';
import { DAY_MS, HOUR_MS } from '../domain/time.js';
import type { Service } from '../service/service.js';
import { HTTP_TRANSPORT } from '../storage/spool.js';
import { Rng } from './random.js';

/** What inspectors and maintenance units write down, by category (GB/T and TSG inspection items, as the city reports them). */
const FINDINGS: [category: string, general: string[], major: string[]][] = [
  ['制动器', ['制动器闸瓦磨损接近极限', '制动器动作有异响'], ['制动器制动力不足，轿厢溜车', '制动器闸瓦磨损超过极限']],
  ['门锁', ['层门门锁啮合深度不足 7 mm', '轿门门刀与门球间隙偏大'], ['层门门锁电气触点被短接']],
  ['安全回路', ['安全回路接线端子松动', '底坑急停开关失灵'], ['安全回路被短接运行']],
  ['钢丝绳', ['曳引钢丝绳局部锈蚀', '钢丝绳张力不均'], ['曳引钢丝绳断丝超标']],
  ['限速器', ['限速器校验标签过期', '限速器绳轮有油污'], ['限速器-安全钳联动失效']],
  ['应急救援', ['五方对讲不通', '应急照明不亮', '盘车手轮未放置在机房'], []],
  ['机房', ['机房通风不良、温度过高', '机房堆放杂物'], []],
];

const MAJOR_FINDINGS = FINDINGS.filter(([, , major]) => major.length > 0);

export interface DemoHazardsOptions {
  /** the city's seed (DEMO_SEED) */
  seed?: number;
  /** default: now */
  now?: number;
}

/** Publishes the demo city's hazards; returns how many records were published. */
export async function seedDemoHazards(service: Service, log: Logger, opts: DemoHazardsOptions = {}): Promise<number> {
  const rng = new Rng(opts.seed ?? Number(process.env.DEMO_SEED ?? 1)).fork('hazards');
  const now = opts.now ?? Date.now();
  const { registry, spool } = service;
  const partners = [...registry.partners.items.values()];
  const unitPartner = new Map(partners.filter((p) => p.kind === 'maintenance_unit' && p.unit).map((p) => [p.unit!, p.id]));
  const institute = partners.find((p) => p.kind === 'institute')?.id;
  const elevators = [...registry.elevators.items.values()].filter((e) => unitPartner.has(e.maintenanceUnit)).sort((a, b) => (a.code < b.code ? -1 : 1));
  const general = service.config.HAZARD_DUE_DAYS_GENERAL;
  const major = service.config.HAZARD_DUE_DAYS_MAJOR;
  const bySender = new Map<string, HazardIn[]>();
  const add = (sender: string, rec: HazardIn) => (bySender.get(sender) ?? bySender.set(sender, []).get(sender)!).push(rec);

  const count = Math.max(8, Math.round(elevators.length / 25));
  for (let i = 0; i < count && elevators.length; i++) {
    const e = rng.pick(elevators);
    const byInstitute = institute !== undefined && rng.chance(0.3);
    const sender = byInstitute ? institute : unitPartner.get(e.maintenanceUnit)!;
    // The first three are major (the first left open); then about one in twelve of those that can be.
    const [category, generalText, majorText] = rng.pick(i < 3 ? MAJOR_FINDINGS : FINDINGS);
    const isMajor = majorText.length > 0 && (i < 3 || rng.chance(1 / 12));
    const level = isMajor ? 'major' : 'general';
    const dueDays = isMajor ? major : general;
    const foundAt = i === 0 ? now - 2 * DAY_MS : now - rng.int(1, 90) * DAY_MS - rng.int(8, 17) * HOUR_MS;
    const id = `DEMO-HZ-${String(i + 1).padStart(4, '0')}`;
    const base = { elevator: e.code, level, category, source: byInstitute ? 'inspection' : 'self_inspection' } as const;
    add(sender, { ...base, id, ts: foundAt, description: rng.pick(isMajor ? majorText : generalText), state: 'found' });
    // Most are rectified, usually within the deadline; about one in five is late; the rest stay open (overdue once due).
    const fate = i === 0 ? 'open' : rng.weighted(['in_time', 'late', 'open'] as const, [0.6, 0.15, 0.25]);
    if (fate === 'open') continue;
    const after = fate === 'in_time' ? rng.range(0.2, 0.9) * dueDays * DAY_MS : (1 + rng.range(0.1, 0.8)) * dueDays * DAY_MS;
    const rectifiedAt = Math.round(foundAt + after);
    if (rectifiedAt > now - HOUR_MS) continue; // not yet: still open
    // The maintenance unit rectifies; the evidence is its before/after photos.
    add(unitPartner.get(e.maintenanceUnit)!, { ...base, id: `${id}-R`, ts: rectifiedAt, state: 'rectified', hazardId: id, evidence: [`https://files.example.org/hazards/${id}/after-1.jpg`] });
  }

  let published = 0;
  const receivedAt = Date.now();
  // Every found record first: a rectification that came before its hazard would only be matched when the hazard arrives.
  for (const state of ['found', 'rectified'] as const) {
    for (const [sender, records] of bySender) {
      const mine = records.filter((r) => r.state === state);
      for (let i = 0; i < mine.length; i += 500) {
        const batch = mine.slice(i, i + 500);
        await spool.appendAsync({ qos: HTTP_TRANSPORT, topic: topics.record('hazard'), sender, receivedAt, payload: Buffer.from(JSON.stringify(batch)) });
        published += batch.length;
      }
    }
  }
  log.info({ hazards: count, records: published }, 'demo hazards published');
  return published;
}
