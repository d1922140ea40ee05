// `npm run bench:replay`: a restart with a full spool (issue 10, item 9:
// PUBACKs resume within 2 s whatever the spool holds, 1 GiB too).
//
// Registers a gateway on a first run of the service, stops it, fills its
// spool directly with BENCH_SPOOL_MB of status messages (as a long outage
// leaves it), starts the service again (its own influxd already running) and
// prints the time from start to the first PUBACK of a new message, PUBACK
// latency while the backlog replays (BENCH_PROBE_S), and the replay rate.
//
// Environment: BENCH_SPOOL_MB (1024), BENCH_PROBE_S (10),
// BENCH_NODE_FLAGS (the service's: service/node-flags.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { startLocalInflux } from '../storage/influxd.js';
import { Spool } from '../storage/spool.js';
import { freePort } from './free-port.js';
import { benchElevator, ms, pct, registerCity, run, sleep, startService } from './harness.js';

const SPOOL_MB = Number(process.env.BENCH_SPOOL_MB ?? 1024);
const PROBE_S = Number(process.env.BENCH_PROBE_S ?? 10);
const MB = 1024 * 1024;

async function fill(dir: string, log: pino.Logger): Promise<{ messages: number; bytes: number }> {
  const spool = Spool.open({ dir, maxBytes: 2 * SPOOL_MB * MB, fsync: 'none', log });
  const t0 = Date.now() - 86_400_000;
  let i = 0;
  while (spool.depthBytes < SPOOL_MB * MB) {
    const appends: Promise<void>[] = [];
    for (let k = 0; k < 10_000; k++, i++) {
      const msg = { id: `bl-${i}`, ts: t0 + i, serviceMode: 'normal', carStatus: 'running', direction: 'up', floor: i % 30, doorZone: false, doorStatus: 'closed', passengers: true, runCount: i };
      appends.push(spool.appendAsync({ qos: 1, topic: `se/v1/elevator/${benchElevator(i % 100)}/status`, sender: 'BGW0', receivedAt: Date.now(), payload: Buffer.from(JSON.stringify(msg)) }));
    }
    await Promise.all(appends);
  }
  const filled = { messages: spool.depthCount, bytes: spool.depthBytes };
  await spool.close();
  return filled;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'se-bench-replay-'));
  const log = pino({ level: 'warn' });
  const influx = await startLocalInflux({ dataDir: join(dir, 'influxdb'), port: await freePort(), log });
  const dataDir = join(dir, 'service');
  await influx.ready();
  const env = { INFLUX_URL: influx.url, INFLUX_USERNAME: influx.username, INFLUX_PASSWORD: influx.password, SPOOL_MAX_BYTES: String(2 * SPOOL_MB * MB) };
  try {
    let svc = await startService(dataDir, env);
    const [gw] = await registerCity(svc.base, 100, [{ id: 'BGW0', elevators: Array.from({ length: 100 }, (_, i) => benchElevator(i)) }]);
    await svc.stop();
    const filled = await fill(join(dataDir, 'spool'), log);
    console.log(`backlog: ${filled.messages} messages, ${(filled.bytes / MB).toFixed(0)} MB in the spool`);

    const t0 = performance.now();
    svc = await startService(dataDir, env);
    const client = await mqtt.connectAsync(svc.mqttUrl, { username: gw!.id, password: gw!.secret, reconnectPeriod: 0 });
    const puback = async () => {
      const t = performance.now();
      const msg = { id: `probe-${t}`, ts: Date.now(), serviceMode: 'normal', carStatus: 'stopped', direction: 'none', floor: 1, doorZone: true, doorStatus: 'closed', passengers: false };
      await client.publishAsync(`se/v1/elevator/${benchElevator(0)}/status`, JSON.stringify(msg), { qos: 1 });
      return performance.now() - t;
    };
    await puback();
    console.log(`restart:  first PUBACK ${ms(performance.now() - t0)} after start (healthy after the spool was opened and the broker listened)`);

    const depth = async () => ((await (await fetch(`${svc.base}/healthz`, { signal: AbortSignal.timeout(10_000) })).json()) as { spool: { depthMessages: number } }).spool.depthMessages;
    const d0 = await depth();
    const lat: number[] = [];
    const probeStart = Date.now();
    while (Date.now() - probeStart < PROBE_S * 1000) {
      lat.push(await puback());
      await sleep(100);
    }
    const d1 = await depth();
    lat.sort((a, b) => a - b);
    console.log(`replay:   PUBACK latency over ${PROBE_S} s of replay p50 ${ms(pct(lat, 0.5))}, p99 ${ms(pct(lat, 0.99))}, max ${ms(lat[lat.length - 1]!)}; ${Math.round((d0 - d1) / PROBE_S)} msg/s stored, ${d1} still to go`);
    await client.endAsync();
    await svc.stop();
  } finally {
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

run(main);
