// Starts one real, project-local InfluxDB for the whole suite (installing
// Debian's package if needed). If it cannot start, the suite fails: no test
// silently skips its real dependency.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { freePort } from '../bench/free-port.js';
import { startLocalInflux } from '../storage/influxd.js';

export default async function setup(project: TestProject) {
  if (process.env.TEST_INFLUX_URL) {
    project.provide('influxUrl', process.env.TEST_INFLUX_URL);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'se-test-influx-'));
  const influx = await startLocalInflux({ dataDir: dir, port: await freePort(), log: pino({ level: 'warn' }) });
  project.provide('influxUrl', influx.url);
  return async () => {
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string;
  }
}
