// `npm run bench:jslog`: the cluster log's append rate against one local
// nats-server (file storage, its own temp store dir).
//
// BENCH_APPENDERS concurrent appenders (100), each with BENCH_WINDOW appends
// in flight (1: awaiting each before the next), BENCH_APPENDS in all
// (200,000), BENCH_PARTITIONS (16), BENCH_LINGER_MS (0 = the same event-loop
// turn only). Prints appends/s, append latency
// p50/p99, stream messages per append, and the CPU per append of this
// process (the client: encoding, publishing) and of nats-server, and the rate
// of reading them back (one reader per partition); then the same without group
// commit (one stream message per append, BENCH_APPENDS / 10 appends) as the
// baseline.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { JetStreamLog, type JetStreamLogOptions } from '../storage/jetstream-log.js';
import { startNatsServer } from './nats-server.js';

const C = Number(process.env.BENCH_APPENDERS ?? 100);
const TOTAL = Number(process.env.BENCH_APPENDS ?? 200_000);
const P = Number(process.env.BENCH_PARTITIONS ?? 16);
const W = Number(process.env.BENCH_WINDOW ?? 1);
const log = pino({ level: 'warn' });

const payload = (e: number, i: number) =>
  Buffer.from(JSON.stringify({ msgId: `m${e}-${i}`, ts: Date.now(), elevatorId: `3101${String(e).padStart(6, '0')}`, floor: i % 30, door: 'closed', running: true, direction: 'up', speed: 1.5, load: 40 }));

/** user + system CPU of a process in ms, from /proc (clock ticks of 10 ms on Linux) */
function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function run(label: string, url: string, serverPid: number, total: number, extra: Partial<JetStreamLogOptions>) {
  const jl = await JetStreamLog.open({ servers: url, stream: label, subjectPrefix: `se.ingest.${label}`, partitions: P, nodeId: 'bench', maxPendingBytes: 64 << 20, log, ...extra });
  const per = Math.ceil(total / (C * W));
  const lat: number[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const srv0 = procCpuMs(serverPid);
  await Promise.all(Array.from({ length: C * W }, async (_, lane) => {
    const g = lane % C;
    for (let i = 0; i < per; i++) {
      const e = g * 4 + (i % 4);
      const s = performance.now();
      await jl.append({ qos: 1, topic: `se/v1/elevator/${e}/status`, sender: `BGW${g}`, receivedAt: Date.now(), payload: payload(e, i) }, String(e));
      lat.push(performance.now() - s);
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const clientUs = (cpu.user + cpu.system) / jl.appended;
  const serverUs = ((procCpuMs(serverPid) - srv0) * 1000) / jl.appended;
  lat.sort((a, b) => a - b);
  const q = (x: number) => lat[Math.min(lat.length - 1, Math.floor(x * lat.length))]!.toFixed(2);
  console.log(
    `${label.padEnd(16)} ${String(jl.appended).padStart(7)} appends in ${secs.toFixed(2)} s: ${Math.round(jl.appended / secs).toLocaleString('en')} appends/s, ` +
      `append p50 ${q(0.5)} ms p99 ${q(0.99)} ms, ${(jl.batches / jl.appended).toFixed(4)} stream messages per append (${jl.batches} batches); ` +
      `CPU per append: client ${clientUs.toFixed(1)} µs, nats-server ${serverUs.toFixed(1)} µs`,
  );
  // Read back as the owners of the partitions would: one reader per partition, all at once,
  // whole batches by direct get up to 1 MiB a read.
  const r0 = performance.now();
  let read = 0;
  let reads = 0;
  await Promise.all(Array.from({ length: P }, async (_, p) => {
    const last = await jl.lastSeq(p);
    for (let after = 0; after < last; reads++) {
      const b = await jl.read(p, after, 1 << 20);
      read += b.entries.length;
      after = b.lastSeq;
    }
  }));
  const rs = (performance.now() - r0) / 1000;
  console.log(`${''.padEnd(16)} read back ${read} in ${rs.toFixed(2)} s (${P} partitions read concurrently, ${reads} reads of up to 1 MiB): ${Math.round(read / rs).toLocaleString('en')} msg/s`);
  await jl.close();
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'se-bench-jslog-'));
  const server = await startNatsServer(dir);
  try {
    console.log(`nats-server ${server.url}, file storage; ${C} concurrent appenders × ${W} in flight, ${P} partitions`);
    await run('GROUP_COMMIT', server.url, server.proc.pid!, TOTAL, { lingerMs: Number(process.env.BENCH_LINGER_MS ?? 0) });
    await run('ONE_PER_APPEND', server.url, server.proc.pid!, Math.round(TOTAL / 10), { maxBatchMessages: 1, lingerMs: 0 });
  } finally {
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
