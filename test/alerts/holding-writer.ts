// A writer for the transition-order test (event-order.test.ts), in a worker
// thread with its own PostgreSQL connection: each round it raises an alert in
// a transaction, says so (held = round), and keeps the transaction open until
// the test releases it (release = round) or holdMs passed, then commits.
import { parentPort, workerData } from 'node:worker_threads';
import { AlertStore } from '../../alerts/store.js';
import { openDb } from '../../storage/db.js';

export interface HoldingWriterData {
  url: string;
  rounds: number;
  holdMs: number;
  held: Int32Array;
  release: Int32Array;
}

const { url, rounds, holdMs, held, release } = workerData as HoldingWriterData;
const db = openDb({ url, dataDir: '' });
const store = new AlertStore(db);
const seqs: number[] = [];
for (let round = 1; round <= rounds; round++) {
  db.transaction(() => {
    seqs.push(store.raise({ type: 'entrapment', severity: 'critical', subjectKind: 'elevator', subject: `W${round}`, at: round }).seq);
    Atomics.store(held, 0, round);
    Atomics.notify(held, 0);
    Atomics.wait(release, 0, round - 1, holdMs);
  })();
}
db.close();
parentPort!.postMessage(seqs);
