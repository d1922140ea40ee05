// `node --expose-gc --import tsx bench/risk-levels.ts [elevators]` (default 500,000): the risk
// levels of a province-sized registry on SQLite — how long the computation
// takes and the longest the event loop is held meanwhile (a 1 ms timer's
// largest gap), with a fault event for every second elevator, an entrapment
// for every fourth and a complaint for every fifth.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../storage/db.js';
import { Registry } from '../registry/registry.js';
import { RecordLedger, type LedgerItem } from '../storage/ledger.js';
import { AlertStore } from '../alerts/store.js';
import { RiskLevels } from '../supervision/risk.js';

const N = Number(process.argv[2] ?? 500_000);
const dir = mkdtempSync(join(tmpdir(), 'bench-risk-'));
const db = openDb({ dataDir: dir });
const registry = new Registry(db);
registry.units.put({ id: 'U1', name: 'bench unit' });
for (let i = 0; i < N; i += 50_000) {
  registry.elevators.putMany(Array.from({ length: Math.min(50_000, N - i) }, (_, k) => ({
    row: i + k, input: { code: `E${i + k}`, address: 'bench', district: `D${(i + k) % 100}`, userUnit: 'x', maintenanceUnit: 'U1', installedOn: `${1995 + ((i + k) % 30)}-01-01` },
  })));
}
const ledger = new RecordLedger(db);
const now = Date.now();
const items: LedgerItem[] = [];
for (let i = 0; i < N; i += 2) items.push({ channel: 'event', code: `E${i}`, ctx: {}, record: { id: `e${i}`, ts: now - (i % 300) * 86_400_000, type: i % 4 ? 'door_open_fault' : 'entrapment', state: 'raised' } } as unknown as LedgerItem);
for (let i = 0; i < N; i += 5) items.push({ channel: 'complaint', code: null, ctx: {}, record: { id: `c${i}`, ts: now - 1000, elevator: `E${i}`, source: '96333', category: 'bench' } } as unknown as LedgerItem);
ledger.add(items);
const risk = new RiskLevels({ registry, ledger, alerts: new AlertStore(db) });
globalThis.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
let maxGap = 0;
let last = performance.now();
const timer = setInterval(() => {
  const t = performance.now();
  maxGap = Math.max(maxGap, t - last);
  last = t;
}, 1);
const s = await risk.compute();
clearInterval(timer);
globalThis.gc?.();
const kept = globalThis.gc ? `; the snapshot keeps ${Math.round((process.memoryUsage().heapUsed - heapBefore) / 1e6)} MB of heap` : ' (run node with --expose-gc for the snapshot\'s heap)';
console.log(`${s.items.length} elevators, ${items.length} ledger rows: computed in ${s.tookMs} ms; longest event-loop block ${Math.round(maxGap)} ms${kept}`);
db.close();
rmSync(dir, { recursive: true, force: true });
