// A small parent process for test/storage/influxd.test.ts: starts the
// project-local influxd of argv[2] on port argv[3], prints its pid as one JSON
// line and waits to be killed; on a start failure prints the error and exits 1.
import pino from 'pino';
import { startLocalInflux } from '../../storage/influxd.js';

const [dataDir, port] = process.argv.slice(2);
startLocalInflux({ dataDir: dataDir!, port: Number(port), log: pino({ level: 'silent' }) }).then(
  (influx) => {
    console.log(JSON.stringify({ pid: influx.pid }));
    setInterval(() => undefined, 60_000);
  },
  (e: Error) => {
    console.log(JSON.stringify({ error: e.message }));
    process.exit(1);
  },
);
