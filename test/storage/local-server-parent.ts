// A small parent process for the project-local server tests (influxd.test.ts,
// postgres.test.ts): starts the project-local server of argv[2] ("influxd" or
// "postgres") with data directory argv[3] on port argv[4], prints its pid as
// one JSON line and waits to be killed; on a start failure prints the error
// and exits 1.
import pino from 'pino';
import { startLocalInflux } from '../../storage/influxd.js';
import { startLocalPostgres } from '../../storage/postgres.js';

const [kind, dataDir, port] = process.argv.slice(2);
const start = kind === 'postgres' ? startLocalPostgres : startLocalInflux;
start({ dataDir: dataDir!, port: Number(port), log: pino({ level: 'silent' }) }).then(
  (server) => {
    console.log(JSON.stringify({ pid: server.pid }));
    setInterval(() => undefined, 60_000);
  },
  (e: Error) => {
    console.log(JSON.stringify({ error: e.message }));
    process.exit(1);
  },
);
