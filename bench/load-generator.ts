// Load generator (a separate process): C gateways each publish N QoS 1
// status messages as fast as a window of in-flight messages allows; `ts` is
// the publish time, so the service's store-lag histogram measures
// publish → stored. Prints one JSON line with its figures: counts, PUBACK
// p50/p99 (publish → PUBACK) and its own CPU time.
//
//   node load-generator.js <url>[,<url>…] <gateways.json> <perClient> [window] [ratePerSec] [idPrefix] [warmupMs]
//
// With several URLs (cluster nodes) the gateways are spread over them round-robin.
//
// With ratePerSec the gateways together publish at that fixed rate (split
// evenly, paced in 10 ms ticks; the window still caps what is in flight)
// instead of as fast as they can.
//
// With warmupMs, PUBACK p50/p99 cover the messages published after the first
// warmupMs only: a freshly started generator (and a freshly started broker)
// runs its first second unoptimised, which alone puts 40-55 ms into the p99 of
// a 10 s run against a bare Aedes here (6 ms without it). The p99 over all
// messages is printed too (pubackAllP99Ms).
import mqtt from 'mqtt';
import { readFileSync } from 'node:fs';

interface Gateway { id: string; secret?: string; elevators: string[] }
const [url, gatewaysFile, perClient, window, rate, idPrefix = '', warmup = '0'] = process.argv.slice(2) as [string, string, string, string?, string?, string?, string?];
const gateways = JSON.parse(readFileSync(gatewaysFile, 'utf8')) as Gateway[];
const N = Number(perClient);
const W = Number(window ?? 100);
/** messages per second per gateway; unpaced when absent */
const perClientRate = rate && Number(rate) > 0 ? Number(rate) / gateways.length : Infinity;

const urls = url.split(',');
const clients = await Promise.all(
  gateways.map((g, i) => mqtt.connectAsync(urls[i % urls.length]!, { username: g.secret ? g.id : undefined, password: g.secret, clientId: g.id, reconnectPeriod: 0, keepalive: 120 })),
);
const start = Date.now();
const cpu0 = process.cpuUsage();
/** publish → PUBACK of each acknowledged message, ms */
const pubacks: number[] = [];
/** the same, of the messages published after the warm-up */
const warmPubacks: number[] = [];
const warmFrom = start + Number(warmup);
let acked = 0;
let failed = 0;
let lastAck = start;
const paced = Number.isFinite(perClientRate);
/** how many messages each gateway may have sent by now */
const allowed = () => (paced ? Math.min(N, Math.floor(((Date.now() - start) * perClientRate) / 1000)) : N);
const pumps: (() => void)[] = [];
const ticker = paced ? setInterval(() => pumps.forEach((p) => p()), 10) : undefined;
await Promise.all(
  clients.map(
    (c, ci) =>
      new Promise<void>((done) => {
        const g = gateways[ci]!;
        let sent = 0;
        let settled = 0;
        const pump = () => {
          const upTo = allowed();
          while (sent < upTo && sent - settled < W) {
            const code = g.elevators[sent % g.elevators.length]!;
            const msg = {
              id: `${idPrefix}${g.id}-${sent}`, ts: Date.now(), serviceMode: 'normal', carStatus: sent % 3 ? 'running' : 'stopped', direction: 'up',
              floor: sent % 30, doorZone: sent % 3 === 0, doorStatus: 'closed', passengers: true, runCount: sent,
            };
            const t = performance.now();
            const publishedAt = Date.now();
            c.publish(`se/v1/elevator/${code}/status`, JSON.stringify(msg), { qos: 1 }, (err) => {
              settled++;
              if (err) failed++;
              else {
                const ms = performance.now() - t;
                pubacks.push(ms);
                if (publishedAt >= warmFrom) warmPubacks.push(ms);
                acked++;
                lastAck = Date.now();
              }
              if (settled === N) done();
              else pump();
            });
            sent++;
          }
        };
        pumps.push(pump);
        pump();
      }),
  ),
);
clearInterval(ticker);
const cpu = process.cpuUsage(cpu0);
await Promise.all(clients.map((c) => c.endAsync()));
pubacks.sort((a, b) => a - b);
warmPubacks.sort((a, b) => a - b);
const q = (x: number, of = warmPubacks) => of[Math.min(of.length - 1, Math.floor(x * of.length))] ?? NaN;
console.log(JSON.stringify({
  sent: gateways.length * N, acked, failed, start, lastAck, seconds: (lastAck - start) / 1000,
  pubackP50Ms: q(0.5), pubackP99Ms: q(0.99), pubackAllP99Ms: q(0.99, pubacks), warmupMs: Number(warmup), cpuMs: (cpu.user + cpu.system) / 1000,
}));
