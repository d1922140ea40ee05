// The demo city's unit credit grades: one red and black list published for
// the demo period (the previous calendar year, whose records the demo
// backfills), as the bureau would publish them at the start of the year. The
// grades follow from the city's records, so the same seed gives the same lists.
import type { Logger } from 'pino';
import type { Service } from '../service/service.js';
import { previousYear } from '../supervision/interview.js';
import type { CreditPublication } from '../supervision/credit-lists.js';

export async function seedDemoCredit(service: Pick<Service, 'supervision'>, log: Pick<Logger, 'info' | 'warn'>, period = previousYear()): Promise<CreditPublication | null> {
  try {
    const p = await service.supervision.credit.publish(period, 'demo', 'demo');
    const by: Record<string, number> = {};
    for (const g of p.grades) by[g.grade ?? 'not graded'] = (by[g.grade ?? 'not graded'] ?? 0) + 1;
    log.info({ id: p.id, period: `${p.periodFrom}..${p.periodTo}`, version: p.version, grades: by, red: p.red, black: p.black }, 'unit credit grades and red/black lists (信用等级、红黑名单) published for the demo city');
    return p;
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'could not publish the credit lists');
    return null;
  }
}
