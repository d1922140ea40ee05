// POSTGRES_LOCAL=true: the service starts its own PostgreSQL in
// DATA_DIR/postgres, keeps its state there (no SQLite file) across restarts,
// and stops it when it stops.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { loadConfig } from '../../service/config.js';
import { startService } from '../../service/service.js';
import { api, quietLog, testEnv } from '../helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('project-local PostgreSQL', () => {
  it('keeps the state in DATA_DIR/postgres across restarts and stops with the service', async () => {
    const env = testEnv({ POSTGRES_LOCAL: 'true', POSTGRES_LOCAL_PORT: String(await freePort()) });
    dirs.push(env.DATA_DIR!);
    const first = await startService(loadConfig(env), quietLog);
    try {
      expect((await api(first, 'POST', '/api/v1/units', { id: 'U-PG', name: '本地库维保' })).status).toBeLessThan(300);
    } finally {
      await first.stop();
    }
    expect(existsSync(join(env.DATA_DIR!, 'postgres', 'data', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(env.DATA_DIR!, 'state.db'))).toBe(false);
    // stopped with the service: nothing listens on its port any more
    const refused = await fetch(`http://127.0.0.1:${env.POSTGRES_LOCAL_PORT}`).then(() => false, () => true);
    expect(refused).toBe(true);

    const second = await startService(loadConfig(env), quietLog);
    try {
      const r = await api(second, 'GET', '/api/v1/units/U-PG');
      expect(r.status).toBe(200);
      expect((r.body as { name: string }).name).toBe('本地库维保');
    } finally {
      await second.stop();
    }
  });

  it('refuses DATABASE_URL together with POSTGRES_LOCAL, saying why', () => {
    expect(() => loadConfig({ POSTGRES_LOCAL: 'true', DATABASE_URL: 'postgres://a@b/c' })).toThrow(/exclude each other/);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://a@b/c' })).toThrow(/must be a postgres:\/\/ URL/);
  });
});
