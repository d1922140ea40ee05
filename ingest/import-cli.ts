// Bulk import of records (history backfill) through the running service's
// HTTP ingest, so imported records take the same durable path as live ones.
//
//   npm run import -- records.ndjson                    # NDJSON lines: {"topic": "se/v1/records/…", …object}
//   npm run import -- --topic se/v1/records/inspection inspections.csv
//   npm run import -- --registry elevators elevators.csv   # registry entities
//
// Options: --url (http://127.0.0.1:8080), --token (ADMIN_TOKEN or DATA_DIR/admin-token),
// --errors FILE (default <file>.errors.csv), --batch N (≤ 500), --concurrency N.
// Prints progress every second and a per-row error report; a bad row never
// stops the others.
import { createReadStream, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';
import { MAX_BATCH } from '../domain/channels.js';
import { csvValue } from '../registry/import.js';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env.SE_URL ?? `http://127.0.0.1:${process.env.HTTP_PORT ?? 8080}` },
    token: { type: 'string' },
    topic: { type: 'string' },
    registry: { type: 'string' },
    errors: { type: 'string' },
    batch: { type: 'string', default: String(MAX_BATCH) },
    concurrency: { type: 'string', default: '4' },
  },
});
const file = positionals[0];
if (!file) {
  console.error('usage: npm run import -- [--topic TOPIC | --registry ENTITY] FILE.(ndjson|csv)');
  process.exit(2);
}
const tokenFile = `${process.env.DATA_DIR ?? './data'}/admin-token`;
const token = opt.token ?? process.env.ADMIN_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
if (!token) {
  console.error(`no admin token: pass --token, set ADMIN_TOKEN, or run from the service's directory (${tokenFile})`);
  process.exit(2);
}
const isCsv = file.endsWith('.csv');
const total = statSync(file).size;
const batchSize = Math.min(MAX_BATCH, Number(opt.batch));
const errors: string[] = ['row,reason,message'];
const stats = { rows: 0, accepted: 0, rejected: 0, bytes: 0 };
const started = Date.now();

async function* rows(): AsyncGenerator<{ row: number; obj: Record<string, unknown> } | { row: number; error: string }> {
  if (isCsv) {
    const parser = createReadStream(file!).pipe(parse({ columns: true, bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true }));
    for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number; bytes: number } }>) {
      stats.bytes = info.bytes;
      yield { row: info.lines, obj: Object.fromEntries(Object.entries(record).filter(([, v]) => v !== '').map(([k, v]) => [k, csvValue(k, v)])) };
    }
    return;
  }
  let row = 0;
  for await (const line of createInterface({ input: createReadStream(file!), crlfDelay: Infinity })) {
    row++;
    stats.bytes += Buffer.byteLength(line) + 1;
    if (!line.trim()) continue;
    try {
      yield { row, obj: JSON.parse(line) };
    } catch (e) {
      yield { row, error: `not JSON: ${(e as Error).message}` };
    }
  }
}

const csvCell = (s: string) => `"${s.replace(/"/g, '""')}"`;

async function send(path: string, batch: { row: number; obj: Record<string, unknown> }[]): Promise<void> {
  const registry = Boolean(opt.registry);
  const body = registry ? batch.map((b) => JSON.stringify(b.obj)).join('\n') : JSON.stringify(batch.map((b) => b.obj));
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(`${opt.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': registry ? 'application/x-ndjson' : 'application/json' },
      body,
      // a service that accepts but never answers must not stall the import: retried like a restart
      signal: AbortSignal.timeout(120_000),
    }).catch((e: Error) => ({ ok: false, status: 0, json: async () => ({ error: e.message }) }) as const);
    const res = (await r.json()) as { error?: string; accepted?: number; imported?: number; rejected?: { index: number; reason: string; message: string }[]; errors?: { row: number; error: string }[] };
    if (r.status === 503 || r.status === 0) {
      // spool full or service restarting: wait and send the same batch again
      if (attempt === 1 || attempt % 10 === 0) console.error(`service unavailable (${res.error}); retrying`);
      await new Promise((res2) => setTimeout(res2, Math.min(30_000, 500 * attempt)));
      continue;
    }
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}: ${res.error ?? ''}`);
    if (registry) {
      stats.accepted += res.imported ?? 0;
      for (const e of res.errors ?? []) {
        stats.rejected++;
        errors.push(`${batch[e.row - 1]?.row ?? e.row},invalid,${csvCell(e.error)}`);
      }
    } else {
      stats.accepted += res.accepted ?? 0;
      for (const e of res.rejected ?? []) {
        stats.rejected++;
        errors.push(`${batch[e.index ?? 0]!.row},${e.reason},${csvCell(e.message)}`);
      }
    }
    return;
  }
}

const progress = setInterval(() => {
  const secs = (Date.now() - started) / 1000;
  console.log(`${((stats.bytes / Math.max(1, total)) * 100).toFixed(1)} %  ${stats.rows} rows  ${stats.accepted} accepted  ${stats.rejected} rejected  ${Math.round(stats.rows / secs)} rows/s`);
}, 1000);

const inflight = new Set<Promise<void>>();
const batches = new Map<string, { row: number; obj: Record<string, unknown> }[]>();
async function flush(path: string): Promise<void> {
  const batch = batches.get(path);
  if (!batch?.length) return;
  batches.delete(path);
  const p = send(path, batch).finally(() => inflight.delete(p));
  inflight.add(p);
  if (inflight.size >= Number(opt.concurrency)) await Promise.race(inflight);
}

for await (const r of rows()) {
  stats.rows++;
  if ('error' in r) {
    stats.rejected++;
    errors.push(`${r.row},malformed_json,${csvCell(r.error)}`);
    continue;
  }
  let path: string;
  if (opt.registry) path = `/api/v1/${opt.registry}/import`;
  else {
    const { topic, ...obj } = r.obj as { topic?: string };
    const t = opt.topic ?? topic;
    if (!t) {
      stats.rejected++;
      errors.push(`${r.row},unknown_topic,"no topic: give --topic or a topic field"`);
      continue;
    }
    r.obj = obj;
    path = `/api/v1/ingest/${t}`;
  }
  const batch = batches.get(path) ?? [];
  batch.push(r);
  batches.set(path, batch);
  if (batch.length >= batchSize) await flush(path);
}
for (const path of [...batches.keys()]) await flush(path);
await Promise.all(inflight);
clearInterval(progress);
const errFile = opt.errors ?? `${file}.errors.csv`;
if (errors.length > 1) writeFileSync(errFile, errors.join('\n') + '\n');
console.log(`done: ${stats.rows} rows, ${stats.accepted} accepted, ${stats.rejected} rejected in ${((Date.now() - started) / 1000).toFixed(1)} s${errors.length > 1 ? `; errors in ${errFile}` : ''}`);
