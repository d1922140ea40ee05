// Scorecards off the event loop: computeScorecards() is synchronous database
// work that takes seconds for a province, and the service must keep
// acknowledging MQTT messages meanwhile. This module is both the runner (main
// thread) and the worker, which opens the same database read-only (the SQLite
// file, WAL: it reads the last committed state while ingest keeps writing; or
// the same PostgreSQL) and reads it
// through the tables' owners (RecordLedger, RescueTimings, HazardStore). The registry is in
// the main thread's memory: its part travels with the job, packed.
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { RescueTimings } from '../alerts/rescue-timings.js';
import type { Registry } from '../registry/registry.js';
import { reopenDb, type Db } from '../storage/db.js';
import { RecordLedger } from '../storage/ledger.js';
import { HazardStore } from './hazards.js';
import { computeScorecards, packRegistryView, registryView, unpackRegistryView, type PackedRegistryView, type Period, type Scorecard, type ScorecardOptions } from './scorecard.js';

interface Job { file: string; period: Period; opts: ScorecardOptions; registry: PackedRegistryView }
type Reply = { ok: Scorecard[] } | { error: string };

/** The owners of the tables the scorecards read, on this connection. */
const sourcesOn = (db: Db, opts: ScorecardOptions) => ({ ledger: new RecordLedger(db), timings: new RescueTimings(db), hazards: new HazardStore(db, opts.hazardDueDays) });

/** Computes the scorecards in a worker thread; in this thread when the database has no file (in-memory). */
export async function scorecardsOffThread(db: Db, registry: Registry, period: Period, opts: ScorecardOptions): Promise<Scorecard[]> {
  if (db.location === null) return computeScorecards(sourcesOn(db, opts), registryView(registry), period, opts);
  const url = import.meta.url;
  const workerData: Job = { file: db.location, period, opts, registry: await packRegistryView(registry) };
  return new Promise<Scorecard[]>((resolve, reject) => {
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
    reply = { ok: computeScorecards(sourcesOn(db, job.opts), unpackRegistryView(job.registry), job.period, job.opts) };
  } catch (e) {
    reply = { error: (e as Error).message };
  } finally {
    db?.close();
  }
  parentPort.postMessage(reply);
}
