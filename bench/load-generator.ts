// Load generator (a separate process): C gateways each publish N QoS 1
// status messages as fast as a window of in-flight messages allows; `ts` is
// the publish time, so the service's store-lag histogram measures
// publish → stored. Prints one JSON line with its figures.
import mqtt from 'mqtt';
import { readFileSync } from 'node:fs';

interface Gateway { id: string; secret?: string; elevators: string[] }
const [url, gatewaysFile, perClient, window] = process.argv.slice(2) as [string, string, string, string];
const gateways = JSON.parse(readFileSync(gatewaysFile, 'utf8')) as Gateway[];
const N = Number(perClient);
const W = Number(window ?? 100);

const clients = await Promise.all(
  gateways.map((g) => mqtt.connectAsync(url, { username: g.secret ? g.id : undefined, password: g.secret, clientId: g.id, reconnectPeriod: 0, keepalive: 120 })),
);
const start = Date.now();
let acked = 0;
let failed = 0;
let lastAck = start;
await Promise.all(
  clients.map(
    (c, ci) =>
      new Promise<void>((done) => {
        const g = gateways[ci]!;
        let sent = 0;
        let settled = 0;
        const pump = () => {
          while (sent < N && sent - settled < W) {
            const code = g.elevators[sent % g.elevators.length]!;
            const msg = {
              id: `${g.id}-${sent}`, ts: Date.now(), serviceMode: 'normal', carStatus: sent % 3 ? 'running' : 'stopped', direction: 'up',
              floor: sent % 30, doorZone: sent % 3 === 0, doorStatus: 'closed', passengers: true, runCount: sent,
            };
            c.publish(`se/v1/elevator/${code}/status`, JSON.stringify(msg), { qos: 1 }, (err) => {
              settled++;
              if (err) failed++;
              else {
                acked++;
                lastAck = Date.now();
              }
              if (settled === N) done();
              else pump();
            });
            sent++;
          }
        };
        pump();
      }),
  ),
);
await Promise.all(clients.map((c) => c.endAsync()));
console.log(JSON.stringify({ sent: gateways.length * N, acked, failed, start, lastAck, seconds: (lastAck - start) / 1000 }));
