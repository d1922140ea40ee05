// Starts one real, project-local InfluxDB for the whole suite (installing
// Debian's package if needed), with authentication on as the service runs
// it. If it cannot start, the suite fails: no test silently skips its real
// dependency.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { freePort } from '../bench/free-port.js';
import { startLocalInflux } from '../storage/influxd.js';

export default async function setup(project: TestProject) {
  if (process.env.TEST_DATABASE_URL) project.provide('pgUrl', process.env.TEST_DATABASE_URL);
  if (process.env.TEST_INFLUX_URL) {
    project.provide('influxUrl', process.env.TEST_INFLUX_URL);
    project.provide('influxUsername', process.env.TEST_INFLUX_USERNAME ?? '');
    project.provide('influxPassword', process.env.TEST_INFLUX_PASSWORD ?? '');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'se-test-influx-'));
  const influx = await startLocalInflux({ dataDir: dir, port: await freePort(), log: pino({ level: 'warn' }) });
  project.provide('influxUrl', influx.url);
  project.provide('influxUsername', influx.username);
  project.provide('influxPassword', influx.password);
  return async () => {
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string;
    /** '' when the InfluxDB of TEST_INFLUX_URL has no authentication */
    influxUsername: string;
    influxPassword: string;
    /** the suite's PostgreSQL; tests take a fresh schema of it (test/db.ts) */
    pgUrl: string;
  }
}
