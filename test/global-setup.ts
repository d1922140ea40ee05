// Starts one real, project-local InfluxDB and one project-local PostgreSQL for
// the whole suite (installing Debian's packages if needed), with
// authentication on as the service runs them; TEST_INFLUX_URL and
// TEST_DATABASE_URL name existing servers instead. If one cannot start, the
// suite fails: no test silently skips its real dependency.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { TestProject } from 'vitest/node';
import { freePort } from '../bench/free-port.js';
import { startLocalInflux } from '../storage/influxd.js';
import { startLocalPostgres } from '../storage/postgres.js';

const log = pino({ level: 'warn' });

async function influx(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.TEST_INFLUX_URL) {
    project.provide('influxUrl', process.env.TEST_INFLUX_URL);
    project.provide('influxUsername', process.env.TEST_INFLUX_USERNAME ?? '');
    project.provide('influxPassword', process.env.TEST_INFLUX_PASSWORD ?? '');
    return async () => undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'se-test-influx-'));
  const server = await startLocalInflux({ dataDir: dir, port: await freePort(), log });
  project.provide('influxUrl', server.url);
  project.provide('influxUsername', server.username);
  project.provide('influxPassword', server.password);
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

async function postgres(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.TEST_DATABASE_URL) {
    project.provide('pgUrl', process.env.TEST_DATABASE_URL);
    return async () => undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'se-test-pg-'));
  const server = await startLocalPostgres({ dataDir: dir, port: await freePort(), log }).catch((e: Error) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  project.provide('pgUrl', server.url);
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

export default async function setup(project: TestProject) {
  // Both at once: each takes a second or more to be ready.
  const started = await Promise.allSettled([influx(project), postgres(project)]);
  const stops = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const teardown = async () => {
    for (const stop of stops) await stop();
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await teardown();
    throw failed.reason;
  }
  return teardown;
}

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string;
    /** '' when the InfluxDB of TEST_INFLUX_URL has no authentication */
    influxUsername: string;
    influxPassword: string;
    /** postgres://… of the suite's PostgreSQL: the project-local one, or TEST_DATABASE_URL */
    pgUrl: string;
  }
}
