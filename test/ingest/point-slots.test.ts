// Sub-millisecond offsets: distinct ids never share a point, a re-send lands
// on its own point, and re-assignments survive a restart (SQLite, no mocks).
import { sqliteDb } from '../../storage/db.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PointSlots, type Reassigned } from '../../ingest/point-slots.js';
import { idOffsetNs } from '../../storage/points.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const tmpDb = () => {
  const dir = mkdtempSync(join(tmpdir(), 'slots-'));
  dirs.push(dir);
  return join(dir, 'state.db');
};

const SERIES = 'E1'; // the group key: the elevator
const TS = 1_790_000_000_000;
// x-0, x-830227 and x-1288418 share an FNV-1a offset h; x-1781732's is h + 1.
const H = idOffsetNs('x-0');

describe('point slots', () => {
  it('moves an id whose hash slot another id holds to the next free offset, and keeps only those moves', () => {
    expect([idOffsetNs('x-830227'), idOffsetNs('x-1288418'), idOffsetNs('x-1781732')]).toEqual([H, H, H + 1]);
    expect(idOffsetNs('m-3198')).toBe(idOffsetNs('m-5400')); // the pair from the audit
    const slots = new PointSlots(sqliteDb(tmpDb()));
    const out: Reassigned[] = [];
    const offs = ['x-0', 'x-830227', 'x-1781732', 'x-1288418'].map((id) => slots.assign(SERIES, TS, id, out));
    expect(offs).toEqual([H, H + 1, H + 2, H + 3]);
    expect(out.map((r) => [r.id, r.off])).toEqual([['x-830227', H + 1], ['x-1781732', H + 2], ['x-1288418', H + 3]]);
    // a re-send takes its own slot again
    expect(slots.assign(SERIES, TS, 'x-1288418', [])).toBe(H + 3);
    expect(slots.assign(SERIES, TS, 'x-0', [])).toBe(H);
    // another ms or another series: nothing to avoid
    expect(slots.assign(SERIES, TS + 1, 'x-830227', [])).toBe(H);
    expect(slots.assign(`${SERIES}2`, TS, 'x-830227', [])).toBe(H);
    expect(slots.assign(SERIES, TS, 'm-3198', [])).not.toBe(slots.assign(SERIES, TS, 'm-5400', []));
  });

  it('a batch accepted again after its transaction failed re-assigns the same way and still hands the move over to be kept', () => {
    const slots = new PointSlots(sqliteDb(tmpDb()));
    slots.assign(SERIES, TS, 'x-0', []);
    const lost: Reassigned[] = [];
    expect(slots.assign(SERIES, TS, 'x-830227', lost)).toBe(H + 1); // the transaction holding `lost` rolls back
    const again: Reassigned[] = [];
    expect(slots.assign(SERIES, TS, 'x-830227', again)).toBe(H + 1);
    expect(again).toEqual(lost);
  });

  it('after a restart, a replay and a re-send land where the first acceptance put them', () => {
    const file = tmpDb();
    const db = sqliteDb(file);
    const first = new PointSlots(db);
    const out: Reassigned[] = [];
    const ids = ['x-0', 'x-830227', 'x-1781732', 'x-1288418'];
    const offs = ids.map((id) => first.assign(SERIES, TS, id, out));
    db.transaction(() => first.remember(out, Date.now()))();
    db.close();

    const db2 = sqliteDb(file);
    const replay = new PointSlots(db2);
    expect(ids.map((id) => replay.recall(SERIES, TS, id))).toEqual(offs); // the spool read again after a crash
    const resent = new PointSlots(db2);
    expect(ids.map((id) => resent.assign(SERIES, TS, id, []))).toEqual(offs); // re-sends after the restart, nothing in memory
    expect(resent.purge(Date.now() + 1)).toBe(3);
    expect(new PointSlots(db2).recall(SERIES, TS, 'x-830227')).toBe(H); // forgotten after the retention
  });

  it('remembers a bounded number of points of several-id groups in memory, forgetting the oldest groups', () => {
    const slots = new PointSlots(sqliteDb(tmpDb()), 100);
    for (let i = 0; i < 10_000; i++) for (const id of [`s-${i}`, `t-${i}`, `u-${i}`]) slots.assign(SERIES, TS + i, id, []);
    expect(slots.multiSize).toBeLessThanOrEqual(100);
    expect(slots.multiSize).toBeGreaterThan(90);
    // the newest groups are still known: a colliding id in the last one moves
    const out: Reassigned[] = [];
    slots.assign(SERIES, TS + 10_000, 'x-0', out);
    expect(slots.assign(SERIES, TS + 10_000, 'x-830227', out)).toBe(H + 1);
  });
});
