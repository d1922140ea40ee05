// Accounts (users, sessions) and the audit log on both backends, at the store
// level: a duplicate user is 409 also when two creations race past the
// existence check (the database's unique violation, whatever its dialect),
// sessions slide, expire and are revoked on the injected clock, and the audit
// log's filters and paging give the same pages on SQLite and PostgreSQL.
import { afterEach, describe, expect, it } from 'vitest';
import { Accounts, AccountError } from '../../dashboard/accounts.js';
import { AuditLog } from '../../dashboard/audit.js';
import { appliedMigrations } from '../../storage/migrations.js';
import { BACKENDS, openTestDb } from '../db.js';

const PW = 'correct horse battery';
const HOUR = 3_600_000;

for (const backend of BACKENDS) {
  describe(`accounts and audit store on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    async function open(ttlMs = HOUR) {
      const db = await openTestDb(backend, cleanups);
      const clock = { t: 1_764_000_000_000 };
      return { db, clock, accounts: new Accounts(db, { sessionTtlMs: ttlMs, now: () => clock.t }), audit: new AuditLog(db, () => clock.t) };
    }

    it('creates users, refuses a duplicate with 409 even when two creations race, and updates them', async () => {
      const { db, accounts } = await open();
      const chief = await accounts.create({ username: 'chief', role: 'admin', password: PW, displayName: '王科长' });
      expect(chief).toMatchObject({ username: 'chief', role: 'admin', displayName: '王科长', districts: [], disabled: false, createdAt: 1_764_000_000_000 });
      await expect(accounts.create({ username: 'chief', role: 'viewer', password: PW })).rejects.toMatchObject({ statusCode: 409, message: 'user chief already exists' });
      // both pass the existence check while hashing; the second insert meets the primary key
      const raced = await Promise.allSettled([0, 1].map(() => accounts.create({ username: 'twin', role: 'viewer', password: PW })));
      expect(raced.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const refused = (raced.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
      expect(refused).toBeInstanceOf(AccountError);
      expect(refused).toMatchObject({ statusCode: 409, message: 'user twin already exists' });

      await expect(accounts.create({ username: 'insp', role: 'inspector', password: PW })).rejects.toMatchObject({ statusCode: 400 });
      await accounts.create({ username: 'insp', role: 'inspector', password: PW, districts: ['北塔区', ' 北塔区 ', '双清区'] });
      expect(accounts.get('insp')?.districts).toEqual(['北塔区', '双清区']);
      expect(accounts.update('insp', { role: 'viewer' })).toMatchObject({ role: 'viewer', districts: [] });
      expect(accounts.update('insp', { disabled: true }).disabled).toBe(true);
      expect(() => accounts.update('nobody', { disabled: true })).toThrow(/not found/);
      expect(accounts.list().map((u) => u.username)).toEqual(['chief', 'insp', 'twin']);
      expect(accounts.count).toBe(3);
      expect(await accounts.verify('insp', PW)).toBeNull(); // disabled
      expect((await accounts.verify('chief', PW))?.username).toBe('chief');
      expect(await accounts.verify('chief', 'wrong password')).toBeNull();
      expect(await accounts.verify('nobody', PW)).toBeNull();
      expect(appliedMigrations(db).filter((m) => m.owner.startsWith('dashboard/')).map((m) => `${m.owner} ${m.version}`)).toEqual(['dashboard/accounts 1', 'dashboard/audit 1']);
    });

    it('slides a session in use, expires an idle one, and revokes sessions on sign-out, disable, role change and new password', async () => {
      const { db, clock, accounts } = await open(HOUR);
      await accounts.create({ username: 'v', role: 'viewer', password: PW });
      const sessions = () => db.prepare('SELECT COUNT(*) n FROM sessions').pluck().get() as number;

      const a = accounts.startSession('v');
      expect(a.expiresAt).toBe(clock.t + HOUR);
      for (let i = 0; i < 3; i++) {
        clock.t += 0.9 * HOUR; // used within the TTL each time: still alive, and extended
        expect(accounts.session(a.token)?.username).toBe('v');
      }
      clock.t += HOUR; // idle for the whole TTL
      expect(accounts.session(a.token)).toBeNull();
      expect(sessions()).toBe(0); // the expired session is gone, not just refused

      const b = accounts.startSession('v');
      expect(accounts.session('not a token')).toBeNull();
      expect(accounts.endSession(b.token)).toBe(true);
      expect(accounts.endSession(b.token)).toBe(false);
      expect(accounts.session(b.token)).toBeNull();

      const c = accounts.startSession('v');
      accounts.update('v', { disabled: true });
      expect(accounts.session(c.token)).toBeNull();
      accounts.update('v', { disabled: false });
      const d = accounts.startSession('v');
      accounts.update('v', { role: 'admin' });
      expect(accounts.session(d.token)).toBeNull();
      const e = accounts.startSession('v');
      await accounts.setPassword('v', 'another password 2');
      expect(accounts.session(e.token)).toBeNull();
      expect(sessions()).toBe(0);

      // starting a session clears the expired ones of everybody
      accounts.startSession('v');
      clock.t += 2 * HOUR;
      accounts.startSession('v');
      expect(sessions()).toBe(1);
    });

    it('lists the audit log by actor, action (exact or prefix), target and time, in pages, newest first, without secrets', async () => {
      const { clock, audit } = await open();
      const t0 = clock.t;
      const actions = ['session.login', 'alert.ack', 'alert.resolve', 'registry.create', 'alert.note', 'user.create', 'alert_x.ack'];
      for (let i = 0; i < 21; i++) {
        clock.t = t0 + i * 1000;
        audit.record({ actor: i % 3 === 0 ? 'chief' : 'insp', actorKind: 'user', action: actions[i % actions.length]!, target: `alert:${i % 4}`, ip: '127.0.0.1', details: { n: i, password: 'x', hook: 'https://oapi.dingtalk.com/robot/send?access_token=SECRET' } });
      }
      const all = audit.list({ pageSize: 500 });
      expect(all.total).toBe(21);
      expect(all.items.map((x) => x.at)).toEqual([...Array(21).keys()].map((i) => t0 + i * 1000).reverse());
      expect(all.items[0]).toMatchObject({ actor: 'insp', actorKind: 'user', action: 'alert_x.ack', target: 'alert:0', ip: '127.0.0.1', details: { n: 20, hook: 'https://oapi.dingtalk.com/robot/send?…' } });
      expect(JSON.stringify(all.items)).not.toMatch(/SECRET|password/);

      const p2 = audit.list({ page: 2, pageSize: 5 });
      expect(p2).toMatchObject({ total: 21, page: 2, pageSize: 5 });
      expect(p2.items.map((x) => x.details!.n)).toEqual([15, 14, 13, 12, 11]);
      expect(audit.list({ page: 5, pageSize: 5 }).items.map((x) => x.details!.n)).toEqual([0]);

      expect(audit.list({ actor: 'chief', pageSize: 500 }).items.map((x) => x.details!.n)).toEqual([18, 15, 12, 9, 6, 3, 0]);
      expect(audit.list({ action: 'alert.ack' }).items.map((x) => x.details!.n)).toEqual([15, 8, 1]);
      // a prefix ending in '.' is every action of the area, and "alert_x." is not in "alert."
      expect(audit.list({ action: 'alert.', pageSize: 500 }).items.map((x) => x.action).sort()).toEqual([...Array(3)].flatMap(() => ['alert.ack', 'alert.note', 'alert.resolve']).sort());
      expect(audit.list({ target: 'alert:1', pageSize: 500 }).items.map((x) => x.details!.n)).toEqual([17, 13, 9, 5, 1]);
      expect(audit.list({ from: t0 + 5000, to: t0 + 8000 }).items.map((x) => x.details!.n)).toEqual([7, 6, 5]);
      expect(audit.list({ actor: 'insp', action: 'alert.', from: t0 + 10_000, sort: 'at' }).items.map((x) => x.details!.n)).toEqual([11, 16]);
      expect(audit.list({ sort: 'actor', pageSize: 3 }).items.map((x) => `${x.actor} ${x.details!.n}`)).toEqual(['chief 0', 'chief 3', 'chief 6']);
      expect(audit.list({ actor: 'nobody' })).toEqual({ items: [], total: 0, page: 1, pageSize: 50 });
    });
  });
}

describe('accounts and audit on a SQLite file from before versioned migrations', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('adopts users, sessions and audit_log as they are and keeps counting audit ids on', async () => {
    const db = await openTestDb('sqlite', cleanups);
    // what the modules created before they had migrations
    db.exec(`CREATE TABLE users (username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('admin', 'inspector', 'viewer')),
        districts TEXT, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE audit_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, actor_kind TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT, ip TEXT, details TEXT)`);
    db.prepare(`INSERT INTO users (username, display_name, role, password_hash, created_at, updated_at) VALUES ('old', '老用户', 'viewer', 'x', 1, 1)`).run();
    db.prepare(`INSERT INTO audit_log (at, actor, actor_kind, action) VALUES (1, 'old', 'user', 'session.login')`).run();
    const accounts = new Accounts(db, { sessionTtlMs: HOUR });
    const audit = new AuditLog(db);
    expect(accounts.get('old')).toMatchObject({ displayName: '老用户', role: 'viewer' });
    audit.record({ actor: 'cli', actorKind: 'cli', action: 'user.create', target: 'user:new' });
    expect(audit.list({ sort: 'id' }).items.map((x) => [x.id, x.action])).toEqual([[1, 'session.login'], [2, 'user.create']]);
    expect(appliedMigrations(db).map((m) => [m.owner, m.version])).toEqual([['dashboard/accounts', 1], ['dashboard/audit', 1]]);
  });
});
