// A small parent process for the project-local server tests (influxd.test.ts,
// postgres.test.ts, nats.test.ts): starts the project-local server of argv[2]
// ("influxd", "postgres" or "nats") with data directory argv[3] on port argv[4], prints its pid as
// one JSON line and waits to be killed; on a start failure prints the error
// and exits 1.
import pino from 'pino';
import { startLocalInflux } from '../../storage/influxd.js';
import { startLocalNats } from '../../storage/nats.js';
import { startLocalPostgres } from '../../storage/postgres.js';

const [kind, dataDir, port] = process.argv.slice(2);
const opts = { dataDir: dataDir!, port: Number(port), log: pino({ level: 'silent' }) };
const start = kind === 'postgres' ? startLocalPostgres(opts) : kind === 'nats' ? startLocalNats({ ...opts, name: 'solo' }) : startLocalInflux(opts);
start.then(
  (server) => {
    console.log(JSON.stringify({ pid: server.pid }));
    setInterval(() => undefined, 60_000);
  },
  (e: Error) => {
    console.log(JSON.stringify({ error: e.message }));
    process.exit(1);
  },
);
