// `npm run bench:stages`: where the service's CPU per message goes, stage by
// stage. Runs bench:ingest with the service under the V8 CPU profiler
// (BENCH_PROF; the profiler itself adds a little), then attributes every
// sample to the innermost frame on its stack that belongs to a stage (a
// library's code counts for the stage that called it: JSON.parse for decode,
// a write system call for the spool) over the load window, and scales the
// shares by the service's measured CPU per message.
//
//   node dist/bench/stages.js                 run the bench, then print the table
//   node dist/bench/stages.js <profile> <µs>  print the table for a profile taken before
//
// Environment as for bench:ingest (BENCH_MESSAGES defaults to 6000 here).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface CallFrame { functionName: string; url: string }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const STAGES = [
  'MQTT broker (Aedes, packet codec, authorization)',
  'spool append (frame, write, fsync)',
  'spool read',
  'decode and validate (JSON, status fast path, zod)',
  'line protocol and point offsets',
  'accept transaction (rules, state, dead letters)',
  'InfluxDB write (HTTP)',
  'socket I/O and streams (MQTT and HTTP)',
  'metrics',
  'garbage collection',
  'other (timers, HTTP API, event loop)',
] as const;
type Stage = (typeof STAGES)[number] | null;

const SPOOL_READ = new Set(['read', 'reread', 'readAt', 'entryAt', 'recentAt', 'commit', 'resync']);

/** The stage a frame belongs to, or undefined when it says nothing (a builtin, a generic library): look further up. */
function stageOf(f: CallFrame): Stage | undefined {
  const { url, functionName: fn } = f;
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(idle)' || fn === '(program)') return null;
  if (url.includes('/storage/spool.')) return SPOOL_READ.has(fn) ? 'spool read' : 'spool append (frame, write, fsync)';
  if (/\/(broker\/|node_modules\/(aedes|aedes-packet|aedes-persistence|mqtt-packet|bl|qlobber|mqemitter|fastfall|fastparallel|fastseries|reusify)\/)/.test(url)) return 'MQTT broker (Aedes, packet codec, authorization)';
  if (/\/(ingest\/decode|domain\/fast-status|domain\/channels|domain\/messages|node_modules\/zod\/)/.test(url)) return 'decode and validate (JSON, status fast path, zod)';
  if (/\/(storage\/points|ingest\/point-slots)\./.test(url)) return 'line protocol and point offsets';
  if (/\/(storage\/influx\.|node_modules\/undici)/.test(url)) return 'InfluxDB write (HTTP)';
  if (url.includes('/node_modules/prom-client/') || url.includes('/common/metrics.')) return 'metrics';
  if (/\/(alerts|supervision|dashboard\/views|ingest\/dedup|ingest\/dead-letters|storage\/ledger|storage\/db|domain\/listeners)|node_modules\/better-sqlite3\//.test(url)) return 'accept transaction (rules, state, dead letters)';
  if (url.includes('/ingest/pipeline.')) {
    if (fn === 'storeNext' || fn === 'nextWrite' || fn === 'write' || fn === 'joinLines') return 'InfluxDB write (HTTP)';
    if (fn === 'metaOf' || fn === 'joinMeta') return 'line protocol and point offsets';
    return 'accept transaction (rules, state, dead letters)';
  }
  if (/^node:(net|internal\/stream_base_commons|internal\/streams\/)/.test(url)) return 'socket I/O and streams (MQTT and HTTP)';
  if (url.includes('/node_modules/fastify') || url.includes('/node_modules/find-my-way') || url.includes('/node_modules/@fastify')) return 'other (timers, HTTP API, event loop)';
  return undefined;
}

/** CPU seconds per stage in a V8 CPU profile (idle excluded). */
function stageSeconds(p: Profile): Map<Exclude<Stage, null>, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const memo = new Map<number, Stage>();
  const resolve = (id: number): Stage => {
    const known = memo.get(id);
    if (known !== undefined || memo.has(id)) return known!;
    const own = stageOf(byId.get(id)!.callFrame);
    const up = parent.get(id);
    const s = own !== undefined ? own : up === undefined ? 'other (timers, HTTP API, event loop)' : resolve(up);
    memo.set(id, s);
    return s;
  };
  // The load window only: from the first message appended to the spool to the last (registering the city
  // before it goes through the HTTP API, and the spool sees nothing else in the bench).
  const stages = p.samples.map(resolve);
  const first = stages.indexOf('spool append (frame, write, fsync)');
  const last = stages.lastIndexOf('spool append (frame, write, fsync)');
  const out = new Map<Exclude<Stage, null>, number>();
  for (let i = Math.max(0, first); i <= last; i++) {
    const s = stages[i];
    if (s) out.set(s, (out.get(s) ?? 0) + (p.timeDeltas[i + 1] ?? 0) / 1e6);
  }
  return out;
}

function print(profileFile: string, usPerMsg: number): void {
  const secs = stageSeconds(JSON.parse(readFileSync(profileFile, 'utf8')) as Profile);
  const busy = [...secs.values()].reduce((a, b) => a + b, 0);
  console.log(`service CPU ${usPerMsg.toFixed(1)} µs/msg, split by the profile's busy samples (${busy.toFixed(1)} s):`);
  console.log('| stage | share | µs/msg |\n|---|---|---|');
  for (const s of STAGES) {
    const share = (secs.get(s) ?? 0) / busy;
    console.log(`| ${s} | ${(share * 100).toFixed(1)} % | ${(share * usPerMsg).toFixed(1)} |`);
  }
}

const [file, us] = process.argv.slice(2);
if (file && us) print(file, Number(us));
else if (process.argv[1]?.endsWith('stages.js')) {
  const dir = mkdtempSync(join(tmpdir(), 'se-stages-'));
  const run = spawnSync(process.execPath, [join(import.meta.dirname, 'ingest.js')], {
    env: { ...process.env, BENCH_PROF: dir, BENCH_MESSAGES: process.env.BENCH_MESSAGES ?? '6000', BENCH_PACED_MESSAGES: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  process.stdout.write(run.stdout);
  const cpu = /cpu:\s+service ([\d.]+) µs\/msg/.exec(run.stdout);
  const prof = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (run.status !== 0 || !cpu || !prof) {
    console.error('bench:ingest did not finish with a profile');
    process.exit(1);
  }
  print(join(dir, prof), Number(cpu[1]));
}
