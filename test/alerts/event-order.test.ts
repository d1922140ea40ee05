// Alert transitions commit in seq order across connections (cluster nodes on
// one PostgreSQL): PostgreSQL allocates a transition's seq at insert but shows
// it at commit, so without ordering a reader of the log by seq cursor could
// see seq 106 before 105 commits and pass 105 forever.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertStore } from '../../alerts/store.js';
import { openDb } from '../../storage/db.js';
import { freshPostgresUrl } from '../db.js';
import type { HoldingWriterData } from './holding-writer.js';

describe('alert transition log on PostgreSQL with two writers', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  /** holding-writer.ts in a worker thread (TypeScript through tsx, as the service's own workers under test). */
  function holdingWriter(data: HoldingWriterData): Promise<number[]> {
    const url = new URL('./holding-writer.ts', import.meta.url).href;
    const w = new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url)}); })`, { eval: true, workerData: data });
    return new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`holding writer exited (${code}) without its seqs`)));
    });
  }

  it('a transition with a lower seq that commits later is never passed by a reader polling eventsSince(cursor)', async () => {
    const url = await freshPostgresUrl(cleanups);
    const open = () => {
      const db = openDb({ url, dataDir: '' });
      cleanups.unshift(() => db.close());
      return new AlertStore(db);
    };
    const writer = open(); // creates the tables before the worker starts
    const reader = open();
    const rounds = 4;
    const held = new Int32Array(new SharedArrayBuffer(4));
    const release = new Int32Array(new SharedArrayBuffer(4));
    const other = holdingWriter({ url, rounds, holdMs: 300, held, release });
    let cursor = 0;
    const seen: number[] = [];
    const mine: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      // The worker has inserted its transition (a lower seq) and holds its transaction open.
      while (Atomics.load(held, 0) < round) await new Promise((r) => setTimeout(r, 5));
      // Commits after the worker's insert: without ordering it commits first; with it, it waits for the worker.
      mine.push(writer.raise({ type: 'entrapment', severity: 'critical', subjectKind: 'elevator', subject: `M${round}`, at: round }).seq);
      for (const e of reader.eventsSince(cursor)) (seen.push(e.seq), (cursor = e.seq));
      Atomics.store(release, 0, round);
      Atomics.notify(release, 0);
    }
    const theirs = await other;
    for (const e of reader.eventsSince(cursor)) (seen.push(e.seq), (cursor = e.seq));
    // The worker's seqs are the lower ones of each round (the interleaving the test is about happened).
    expect(theirs.every((s, i) => s < mine[i]!)).toBe(true);
    const all = reader.eventsSince(0).map((e) => e.seq);
    expect(all).toHaveLength(2 * rounds);
    expect(seen).toEqual(all);
  });
});
