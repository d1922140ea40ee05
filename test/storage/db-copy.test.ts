// Moving an installation: the SQLite state copied into a real PostgreSQL,
// verified by counts, with the same migration history, values intact,
// identity columns continuing after the copied ids, and safe to re-run.
import { afterEach, describe, expect, it } from 'vitest';
import { DeadLetters } from '../../ingest/dead-letters.js';
import { Dedup } from '../../ingest/dedup.js';
import { copySqliteToPostgres } from '../../storage/db-copy.js';
import { appliedMigrations, migrate } from '../../storage/migrations.js';
import { openTestDb } from '../db.js';

const letter = (i: number) => ({ key: `k${i}`, at: 1_764_000_000_000 + i, topic: 'se/v1/records/maintenance', sender: 'gw-1', transport: 'mqtt', reason: 'invalid_object' as const, message: `第 ${i} 条`, excerpt: '{}' });

describe('copy SQLite state into PostgreSQL', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('copies every table and its history, verifies counts, continues ids, and can be re-run', async () => {
    const src = await openTestDb('sqlite', cleanups);
    const dst = await openTestDb('postgres', cleanups);
    const letters = new DeadLetters(src, 10_000);
    letters.add(Array.from({ length: 1200 }, (_, i) => letter(i)));
    new Dedup(src).remember([['a\u0001maintenance\u0001m1', '0:0:0']], 1_764_000_000_000);
    migrate(src, 'test/blobs', [{ version: 1, name: 'blobs', up: 'CREATE TABLE blobs (id INTEGER PRIMARY KEY AUTOINCREMENT, b BLOB NOT NULL, r REAL)' }]);
    src.prepare('INSERT INTO blobs (b, r) VALUES (?, ?)').run(Buffer.from([0, 255, 7]), 0.25);

    const lines: string[] = [];
    const first = copySqliteToPostgres(src, dst, (l) => lines.push(l));
    expect(first.ok).toBe(true);
    const counts = Object.fromEntries(first.tables.map((t) => [t.table, [t.source, t.target]]));
    expect(counts).toMatchObject({ dead_letters: [1200, 1200], seen_ids: [1, 1], blobs: [1, 1] });
    expect(lines.some((l) => l.startsWith('dead_letters'))).toBe(true);
    expect(appliedMigrations(dst).map(({ owner, version, name }) => ({ owner, version, name }))).toEqual(appliedMigrations(src).map(({ owner, version, name }) => ({ owner, version, name })));
    expect(dst.prepare('SELECT b, r FROM blobs').get()).toEqual({ b: Buffer.from([0, 255, 7]), r: 0.25 });
    expect(new DeadLetters(dst, 10_000).list({ pageSize: 1 }).items[0]).toMatchObject({ key: 'k1199', at: 1_764_000_001_199, message: '第 1199 条' });

    // The owners work on the copy: a new dead letter gets the next seq, not one the copy took.
    const onPg = new DeadLetters(dst, 10_000);
    onPg.add([letter(5000)]);
    const seqs = dst.prepare('SELECT seq FROM dead_letters ORDER BY seq DESC LIMIT 2').pluck().all();
    expect(seqs[0]).toBe((seqs[1] as number) + 1);

    // A re-run (say, after the service wrote more) replaces the earlier copy: no duplicates, the new rows there.
    letters.add([letter(9000)]);
    const second = copySqliteToPostgres(src, dst);
    expect(second.tables.find((t) => t.table === 'dead_letters')).toEqual({ table: 'dead_letters', source: 1201, target: 1201 });
  });

  it('refuses a PostgreSQL migrated by a newer service, and leaves it as it was', async () => {
    const src = await openTestDb('sqlite', cleanups);
    const dst = await openTestDb('postgres', cleanups);
    new DeadLetters(src, 100).add([letter(1)]);
    new DeadLetters(dst, 100);
    migrate(dst, 'ingest/dead-letters', [
      { version: 1, name: 'dead letters', up: () => undefined },
      { version: 2, name: 'from the future', up: 'CREATE TABLE future (a INTEGER)' },
    ]);
    expect(() => copySqliteToPostgres(src, dst)).toThrow(/newer service/);
    expect(dst.prepare('SELECT COUNT(*) n FROM dead_letters').get()).toEqual({ n: 0 });
  });
});
