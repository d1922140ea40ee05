// `npm run user` (the compiled CLI, as in production) on both backends: with
// DATABASE_URL set it creates, lists, disables and re-passwords users in
// PostgreSQL and writes nothing to DATA_DIR/state.db; without it, SQLite.
// What it wrote is read back through the stores, as the service would.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Accounts } from '../../dashboard/accounts.js';
import { AuditLog } from '../../dashboard/audit.js';
import { openDb } from '../../storage/db.js';
import { BACKENDS, databaseUrl } from '../db.js';
import { userCli as cli } from '../helpers.js';

const PW = 'correct horse battery';

for (const backend of BACKENDS) {
  describe(`user CLI on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('creates the first administrator and an inspector, lists, disables and sets a password, audited', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'se-user-cli-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const url = await databaseUrl(backend, cleanups);
      const env = { DATA_DIR: dataDir, DATABASE_URL: url };

      const first = await cli(['create', '--username', 'chief', '--role', 'admin', '--display-name', '王科长'], env, `${PW}\n`);
      expect(first.code, first.err).toBe(0);
      expect(first.out).toMatch(/created admin chief/);
      const insp = await cli(['create', '--username', 'insp', '--role', 'inspector', '--districts', '北塔区，双清区'], { ...env, USER_PASSWORD: PW });
      expect(insp.code, insp.err).toBe(0);
      const dup = await cli(['create', '--username', 'chief', '--role', 'viewer'], { ...env, USER_PASSWORD: PW });
      expect(dup.code).toBe(1);
      expect(dup.err).toMatch(/user chief already exists/);
      expect((await cli(['disable', '--username', 'insp'], env)).code).toBe(0);
      const pw = await cli(['set-password', '--username', 'chief'], { ...env, USER_PASSWORD: 'another password 2' });
      expect(pw.code, pw.err).toBe(0);
      const list = await cli(['list'], env);
      expect(list.code, list.err).toBe(0);
      expect(list.out.trim().split('\n')).toEqual(['chief\tadmin\t王科长\t-\tactive', 'insp\tinspector\tinsp\t北塔区,双清区\tdisabled']);

      // the state went where DATABASE_URL says, and nowhere else
      expect(existsSync(join(dataDir, 'state.db'))).toBe(backend === 'sqlite');
      const db = openDb({ url, dataDir });
      cleanups.unshift(() => db.close());
      const accounts = new Accounts(db, { sessionTtlMs: 3_600_000 });
      expect((await accounts.verify('chief', 'another password 2'))?.role).toBe('admin');
      expect(await accounts.verify('chief', PW)).toBeNull();
      expect(accounts.get('insp')).toMatchObject({ role: 'inspector', districts: ['北塔区', '双清区'], disabled: true });
      const audit = new AuditLog(db).list({ sort: 'id' }).items;
      expect(audit.map((a) => [a.actorKind, a.action, a.target])).toEqual([
        ['cli', 'user.create', 'user:chief'],
        ['cli', 'user.create', 'user:insp'],
        ['cli', 'user.disable', 'user:insp'],
        ['cli', 'user.password', 'user:chief'],
      ]);
      expect(JSON.stringify(audit)).not.toMatch(/horse|another password/);
    }, 120_000);
  });
}
