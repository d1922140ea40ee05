// The accept stage's one transaction on both backends: the rules' effects,
// dead letters, seen ids and the accept position commit together, exactly
// once. A failure after the rules ran and before the commit (the position
// write fails, as in a crash or a lost connection) rolls back everything of
// the batch, which is accepted again, whole; after a restart nothing accepted
// before runs again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../common/metrics.js';
import { DeadLetters } from '../../ingest/dead-letters.js';
import { Dedup } from '../../ingest/dedup.js';
import { createIngest, type IngestedItem } from '../../ingest/pipeline.js';
import { Registry } from '../../registry/registry.js';
import type { Db } from '../../storage/db.js';
import { InfluxStore } from '../../storage/influx.js';
import { migrate } from '../../storage/migrations.js';
import { Spool } from '../../storage/spool.js';
import { BACKENDS, openTestDb } from '../db.js';
import { quietLog } from '../helpers.js';

const T0 = Date.parse('2026-11-20T02:00:00Z');
const maintenance = (id: string, elevator = 'E1') => ({ id, ts: T0, elevator, unit: 'U1', kind: 'half_monthly' });

/** The database, except that the first write of the accept position fails: a crash just before the commit. */
function failingPositionOnce(db: Db): Db {
  let failed = false;
  return new Proxy(db, {
    get(target, prop) {
      if (prop !== 'prepare') return Reflect.get(target, prop, target);
      return (sql: string) => {
        const st = target.prepare(sql);
        if (!/^INSERT INTO ingest_position/.test(sql)) return st;
        return new Proxy(st, {
          get: (t, p) => p !== 'run' ? Reflect.get(t, p, t) : (...args: unknown[]) => {
            if (!failed) {
              failed = true;
              throw new Error('lost the database just before the commit');
            }
            return t.run(...args);
          },
        });
      };
    },
  });
}

const openSpool = (dir: string) => Spool.open({ dir: join(dir, 'spool'), maxBytes: 64 * 1024 * 1024, fsync: 'none', log: quietLog });

/** A rule's effect, kept by the test in its own table: one row per accepted object. */
function effects(db: Db) {
  migrate(db, 'test/effects', [{ version: 1, name: 'effects', up: 'CREATE TABLE effects (n INTEGER PRIMARY KEY AUTOINCREMENT, channel TEXT NOT NULL, id TEXT NOT NULL)' }]);
  const put = db.prepare('INSERT INTO effects (channel, id) VALUES (?, ?)');
  return {
    add: (items: IngestedItem[]) => items.forEach((it) => put.run(it.channel, it.record.id)),
    rows: () => db.prepare('SELECT channel, id FROM effects ORDER BY n').raw().all(),
  };
}

for (const backend of BACKENDS) {
  describe(`accept transaction on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    /** A database with one unit and elevator, a spool directory, and an InfluxDB that is never reachable (nothing is stored: a restart reads the whole spool again). */
    async function world() {
      const db = await openTestDb(backend, cleanups);
      const dir = mkdtempSync(join(tmpdir(), 'se-accept-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const registry = new Registry(db, quietLog);
      registry.units.put({ id: 'U1', name: '维保一' });
      registry.elevators.put({ code: 'E1', address: '中山路 1 号', district: '鼓楼区', userUnit: '物业', maintenanceUnit: 'U1' });
      const store = InfluxStore.open({ url: 'http://127.0.0.1:9', database: 'none' }, quietLog);
      return { db, dir, registry, store };
    }

    it('a listener that fails loses only its own writes for the batch, logged; the rest commits and the stage goes on', async () => {
      const { db, dir, registry, store } = await world();
      const fx = effects(db);
      const logged: { msg: string }[] = [];
      const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line) as { msg: string }) });
      const spool = openSpool(dir);
      const ingest = createIngest({ spool, store, registry, db, deadLetters: new DeadLetters(db, 100), dedup: new Dedup(db), metrics: createMetrics(), log });
      // a rule that writes and then throws
      ingest.onAccepted((items) => {
        fx.add(items.map((it) => ({ ...it, channel: 'event' as const })) as IngestedItem[]);
        throw new Error('rule broke');
      });
      // a rule that swallows a failed statement itself (PostgreSQL then refuses the rest of its transaction)
      ingest.onAccepted(() => {
        try {
          db.prepare('INSERT INTO no_such_table (a) VALUES (?)').run(1);
        } catch {
          // ignored on purpose
        }
      });
      ingest.onAccepted((items) => fx.add(items));
      ingest.start();
      await spool.appendAsync({ qos: 1, topic: 'se/v1/records/maintenance', sender: 'gw-1', receivedAt: T0, payload: Buffer.from(JSON.stringify([maintenance('a'), maintenance('b')])) });
      for (let i = 0; i < 500 && fx.rows().length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      await ingest.stop();
      // the failing rule's writes are gone, the healthy rule's are there
      expect(fx.rows().filter(([ch]) => ch === 'event')).toEqual([]);
      expect(fx.rows().filter(([ch]) => ch === 'maintenance').map(([, id]) => id)).toEqual(['a', 'b']);
      expect(db.prepare(`SELECT COUNT(*) n FROM ingest_position`).pluck().get()).toBe(1);
      expect(logged.some((l) => /accepted-items/.test(JSON.stringify(l)))).toBe(true);
    });

    it('commits nothing while the fence refuses (a lost partition claim), and the batch once when it allows', async () => {
      const { db, dir, registry, store } = await world();
      const fx = effects(db);
      const spool = openSpool(dir);
      let owned = false;
      let refused = 0;
      const ingest = createIngest({
        spool, store, registry, db, deadLetters: new DeadLetters(db, 100), dedup: new Dedup(db), metrics: createMetrics(), log: quietLog,
        positionName: 'p7',
        fence: () => {
          if (!owned) {
            refused++;
            throw new Error('partition 7 is held by another node now');
          }
        },
      });
      ingest.onAccepted((items) => fx.add(items));
      ingest.start();
      await spool.appendAsync({ qos: 1, topic: 'se/v1/records/maintenance', sender: 'gw-1', receivedAt: T0, payload: Buffer.from(JSON.stringify([maintenance('a'), { id: 'bad', ts: T0 }])) });
      for (let i = 0; i < 500 && refused === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(refused).toBeGreaterThan(0);
      expect(fx.rows()).toEqual([]);
      expect(db.prepare('SELECT COUNT(*) n FROM dead_letters').pluck().get()).toBe(0);
      expect(db.prepare('SELECT COUNT(*) n FROM ingest_position').pluck().get()).toBe(0);
      owned = true;
      for (let i = 0; i < 500 && fx.rows().length < 1; i++) await new Promise((r) => setTimeout(r, 10));
      await ingest.stop();
      expect(fx.rows()).toEqual([['maintenance', 'a']]);
      expect(db.prepare('SELECT COUNT(*) n FROM dead_letters').pluck().get()).toBe(1);
      expect(db.prepare('SELECT name FROM ingest_position').pluck().all()).toEqual(['p7']);
    });

    it('commits effects, dead letters, seen ids and position once; a failure before the commit rolls the batch back whole', async () => {
      const { db, dir, registry, store } = await world();
      const deadLetters = new DeadLetters(db, 1000);
      const dedup = new Dedup(db);
      const fx = effects(db);
      const open = (ingestDb = db) => {
        const spool = openSpool(dir);
        const ingest = createIngest({ spool, store, registry, db: ingestDb, deadLetters, dedup, metrics: createMetrics(), log: quietLog });
        return { spool, ingest };
      };
      const msg = (topic: string, payload: unknown) => ({ qos: 1, topic, sender: 'gw-1', receivedAt: T0, payload: Buffer.from(JSON.stringify(payload)) });

      const first = open(failingPositionOnce(db));
      await first.spool.appendAsync(msg('se/v1/records/maintenance', [maintenance('m1'), maintenance('m2'), { id: 'bad', ts: T0 }]));
      await first.spool.appendAsync(msg('se/v1/records/maintenance', maintenance('m1'))); // a re-send: a duplicate
      await first.spool.appendAsync(msg('se/v1/records/maintenance', maintenance('m3')));
      let calls = 0;
      first.ingest.onAccepted((items) => {
        calls++;
        fx.add(items);
      });
      first.ingest.start();
      const position = () => db.prepare(`SELECT seg, off FROM ingest_position WHERE name = 'accepted'`).get() as { seg: number; off: number } | undefined;
      for (let i = 0; i < 500 && fx.rows().length < 3; i++) await new Promise((r) => setTimeout(r, 10));
      await first.ingest.stop();

      // The rules ran twice (the first attempt was rolled back), their effects are there once.
      expect(calls).toBeGreaterThanOrEqual(2);
      expect(fx.rows()).toEqual([['maintenance', 'm1'], ['maintenance', 'm2'], ['maintenance', 'm3']]);
      expect(deadLetters.list({}).items.map((l) => l.reason)).toHaveLength(1);
      expect(dedup.firstSeen(Dedup.key('gw-1', 'maintenance', 'm1'))).toBeTruthy();
      expect(dedup.firstSeen(Dedup.key('gw-1', 'maintenance', 'm3'))).toBeTruthy();
      const pos = position();
      expect(pos).toBeDefined();

      // A restart reads the same spool again (nothing was stored): nothing is accepted twice.
      const second = open();
      const again: IngestedItem[] = [];
      second.ingest.onAccepted((items) => {
        again.push(...items);
        fx.add(items);
      });
      second.ingest.start();
      await second.spool.appendAsync(msg('se/v1/records/maintenance', [maintenance('m3'), maintenance('m4')]));
      for (let i = 0; i < 500 && fx.rows().length < 4; i++) await new Promise((r) => setTimeout(r, 10));
      await second.ingest.stop();
      expect(again.map((it) => it.record.id)).toEqual(['m4']);
      expect(fx.rows()).toEqual([['maintenance', 'm1'], ['maintenance', 'm2'], ['maintenance', 'm3'], ['maintenance', 'm4']]);
      expect(deadLetters.list({}).items).toHaveLength(1);
    });
  });
}
