// The README's "look at the data arriving" commands run as written against a
// service filled the way the demo fills it (its data files, the recent
// history): the InfluxDB query answers one number at once, and the
// mosquitto_pub example finds a gateway, its secret and one of its elevators
// in the files the demo writes, and its message is stored.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../domain/time.js';
import { postRecords } from '../../simulators/backfill.js';
import { generateCity, registerCity } from '../../simulators/city.js';
import { writeGatewayBindings, writeSecrets } from '../../simulators/demo.js';
import { TelemetryHistory } from '../../simulators/history.js';
import { api, count, startTestService, waitFor, type TestService } from '../helpers.js';

let s: TestService;
let cwd: string;
const params = { seed: 2, elevators: 40, units: 3, gasSites: 1, elevatorsPerGateway: 4, today: '2026-03-01' };
const city = generateCity(params);

/** The shell block of the README's "Two commands" section that looks at the data arriving. */
function readmeBlock(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Two commands'), readme.indexOf('## Architecture'));
  const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('mosquitto_pub'));
  if (!block) throw new Error('no mosquitto_pub example in the README\'s "Two commands" section');
  return block;
}

beforeAll(async () => {
  s = await startTestService();
  const secrets = registerCity(s.registry, city);
  // The demo's files, where the README says they are (data/ of the working directory).
  cwd = mkdtempSync(join(tmpdir(), 'se-readme-'));
  mkdirSync(join(cwd, 'data'));
  writeFileSync(join(cwd, 'data', 'admin-token'), s.adminToken);
  // The project-local InfluxDB's credentials file, as the service writes it (user:password).
  mkdirSync(join(cwd, 'data', 'influxdb'));
  writeFileSync(join(cwd, 'data', 'influxdb', 'credentials'), `${s.config.INFLUX_USERNAME}:${s.config.INFLUX_PASSWORD}`, { mode: 0o600 });
  writeSecrets(join(cwd, 'data', 'demo-secrets.json'), secrets, params);
  writeGatewayBindings(join(cwd, 'data', 'demo-gateways.json'), city);
  const history = new TelemetryHistory(city, { seed: 2, from: Date.now() - 2 * HOUR_MS, statusBudget: 400 });
  expect((await postRecords(s.httpUrl, s.adminToken, history.until(Date.now()))).rejected).toBe(0);
  await waitFor(async () => s.spool.depthCount, (n) => n === 0);
});
afterAll(async () => {
  await s?.cleanup();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

describe('the README example', () => {
  it('runs as written: one number from InfluxDB at once, and a gateway publishing for one of its elevators', async () => {
    const influx = new URL(s.config.INFLUX_URL!);
    const script = readmeBlock()
      .replaceAll('localhost:8080', new URL(s.httpUrl).host)
      .replaceAll('localhost:8186', influx.host)
      .replaceAll('db=se_monitor', `db=${s.database}`)
      .replaceAll('-h localhost -p 1883', `-h 127.0.0.1 -p ${s.mqttPort}`);
    expect(script).toContain(`-p ${s.mqttPort}`);
    const { stdout } = await promisify(execFile)('bash', ['-e', '-c', script], { cwd, timeout: 30_000 });
    // The count query: a single series with a single value, the history's status messages of the last hour.
    expect(stdout).toContain('{"results"');
    const answer = stdout.slice(stdout.indexOf('{"results"')).split('\n')[0]!; // InfluxDB ends its answer with a newline; /healthz does not
    const series = JSON.parse(answer).results[0].series as { columns: string[]; values: unknown[][] }[];
    expect(series).toHaveLength(1);
    expect(series[0]!.columns).toEqual(['time', 'count']);
    expect(series[0]!.values).toHaveLength(1);
    expect(series[0]!.values[0]![1]).toBeGreaterThanOrEqual(city.elevators.length);
    // The published status: stored for the first gateway's first elevator, nothing dead-lettered.
    const gw = city.gateways[0]!;
    await waitFor(() => count(s, 'elevator_status', `WHERE "id" = 'm1' AND "elevator" = '${gw.elevators[0]}'`), (n) => n === 1);
    expect((await api(s, 'GET', '/api/v1/dead-letters')).body.total).toBe(0);
  });
});
