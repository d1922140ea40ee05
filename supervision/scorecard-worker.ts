// Scorecards off the event loop: computeScorecards() is synchronous SQLite
// work that takes seconds for a province, and the service must keep
// acknowledging MQTT messages meanwhile. This module is both the runner (main
// thread) and the worker, which opens the same database again, read-only: the
// SQLite file (WAL: it reads the last committed state while ingest keeps
// writing) or the postgres:// URL (a connection of its own).
import { reopenDb, type Db } from '../storage/db.js';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { computeScorecards, type Period, type Scorecard, type ScorecardOptions } from './scorecard.js';

interface Job { /** a file path or a postgres:// URL (Db.location) */ file: string; period: Period; opts: ScorecardOptions }
type Reply = { ok: Scorecard[] } | { error: string };

/** Computes the scorecards in a worker thread; in this thread when the database cannot be opened again (SQLite in memory). */
export function scorecardsOffThread(db: Db, period: Period, opts: ScorecardOptions): Promise<Scorecard[]> {
  if (db.location === null) return Promise.resolve(computeScorecards(db, period, opts));
  const url = import.meta.url;
  const workerData: Job = { file: db.location, period, opts };
  return new Promise((resolve, reject) => {
    // Under tsx (tests, `npm run dev`) this file is TypeScript: the worker registers the same loader first.
    const w = url.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url)}); })`, { eval: true, workerData })
      : new Worker(new URL(url), { workerData });
    w.once('message', (m: Reply) => ('ok' in m ? resolve(m.ok) : reject(new Error(m.error))));
    w.once('error', reject);
    w.once('exit', (code) => reject(new Error(`scorecard worker exited with code ${code} before answering`)));
  });
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.file) {
  const job = workerData as Job;
  let reply: Reply;
  let db: Db | undefined;
  try {
    db = reopenDb(job.file, { readonly: true });
    reply = { ok: computeScorecards(db, job.period, job.opts) };
  } catch (e) {
    reply = { error: (e as Error).message };
  } finally {
    db?.close();
  }
  parentPort.postMessage(reply);
}
