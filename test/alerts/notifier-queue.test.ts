// The notification log (the Notifier's queue) on SQLite and on PostgreSQL:
// routed transitions are queued once per contact, delivered when due, retried
// after a failure on the injected clock, listed by the caller's districts,
// and routing the same transitions again (a crash before the cursor moved)
// sends nothing twice. Deliveries go to a real local HTTP receiver.
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Notifier, type Notification } from '../../alerts/notify/notifier.js';
import { parseAllowHosts, WebhookTargets } from '../../alerts/notify/target.js';
import { AlertStore, type RaiseInput } from '../../alerts/store.js';
import { Registry } from '../../registry/registry.js';
import { wrapSqlite, type Db } from '../../storage/db.js';
import { startWebhookSink, type WebhookSink } from '../../simulators/webhook-sink.js';
import { BACKENDS, openTestDb } from '../db.js';
import { quietLog, waitFor } from '../helpers.js';

const T0 = 1_764_000_000_000;
const entrapment = (subject: string, district: string): RaiseInput => ({ type: 'entrapment', severity: 'critical', subjectKind: 'elevator', subject, district, at: T0 });

for (const backend of BACKENDS) {
  describe(`notification queue on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    let sink: WebhookSink;
    beforeEach(async () => {
      sink = await startWebhookSink();
      cleanups.push(() => sink.close());
    });
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    /** A notifier on `db` with two contacts (one per district) in a registry of its own, on a clock the test moves. */
    function notifier(db: Db, alerts: AlertStore, clock: () => number): Notifier {
      // The registry only supplies the contacts here; its tables are its own owner's business.
      const registry = new Registry(wrapSqlite(new Database(':memory:')));
      registry.contacts.put({ id: 'li', name: '李检查员', districts: ['大祥区'], minSeverity: 'major', webhook: `${sink.url}/li` });
      registry.contacts.put({ id: 'wang', name: '王检查员', districts: ['双清区'], minSeverity: 'major', webhook: `${sink.url}/wang` });
      const n = new Notifier({
        db, alerts, registry, log: quietLog, clock, targets: new WebhookTargets(parseAllowHosts(sink.allow)),
        config: { retryBaseMs: 1000, maxAttempts: 3, timeoutMs: 5000 },
      });
      cleanups.unshift(() => n.stop());
      return n;
    }

    it('queues per contact, delivers when due, retries a failure later, lists by district, and never sends twice', async () => {
      const db = await openTestDb(backend, cleanups);
      const alerts = new AlertStore(db);
      let now = T0;
      const n = notifier(db, alerts, () => now);
      let liFailures = 1;
      sink.respond = (r) => (r.path === '/li' && liFailures-- > 0 ? { status: 502, body: 'bad gateway' } : { status: 200, body: { errcode: 0, errmsg: 'ok' } });
      n.start();
      const e1 = alerts.raise(entrapment('E1', '大祥区')).alert;
      const e2 = alerts.raise(entrapment('E2', '双清区')).alert;

      const byContact = (items: Notification[]) => Object.fromEntries(items.map((x) => [x.contact, x]));
      const first = byContact((await waitFor(async () => n.list(), (p) => p.items.length === 2 && p.items.every((x) => x.attempts === 1))).items);
      expect(first.wang).toMatchObject({ alertId: e2.id, transition: 'raised', status: 'sent', attempts: 1, sentAt: T0, createdAt: T0, lastError: null });
      expect(first.li).toMatchObject({ alertId: e1.id, status: 'pending', attempts: 1, sentAt: null });
      expect(first.li!.lastError).toMatch(/502/);
      expect(first.li!.nextAt).toBeGreaterThanOrEqual(T0 + 800); // first retry after about retryBaseMs
      expect(first.li!.nextAt).toBeLessThanOrEqual(T0 + 1200);
      expect(n.list({ sort: 'sentAt' }).items.map((x) => x.contact)).toEqual(['li', 'wang']); // not sent yet first, on both backends
      expect(n.list({ sort: '-sentAt' }).items.map((x) => x.contact)).toEqual(['wang', 'li']);

      // Not due yet: waiting on the real clock changes nothing.
      await new Promise((r) => setTimeout(r, 300));
      expect(sink.attempts.filter((r) => r.path === '/li')).toHaveLength(1);
      now = T0 + 1500;
      expect(await n.idle()).toBe(true);
      expect(n.list({ contact: 'li' }).items[0]).toMatchObject({ status: 'sent', attempts: 2, sentAt: T0 + 1500 });

      // The caller's districts: only the notifications of alerts there (and of city-wide ones).
      expect(n.list({ districts: ['双清区'] }).items.map((x) => x.contact)).toEqual(['wang']);
      expect(n.list({ districts: ['大祥区', '双清区'] }).total).toBe(2);
      expect(n.list({ districts: [] }).total).toBe(0);
      expect(n.list({ status: 'sent', alertId: e1.id }).items.map((x) => x.contact)).toEqual(['li']);
      expect(n.list({ pageSize: 1, page: 2 })).toMatchObject({ total: 2, items: [{ contact: 'li' }] }); // newest first

      // Closing the loop goes only to who was told.
      alerts.acknowledge(e1.id, 'li', T0 + 2000);
      expect(await n.idle()).toBe(true);
      expect(n.list({ alertId: e1.id }).items.map((x) => [x.contact, x.transition, x.status])).toEqual([['li', 'acknowledged', 'sent'], ['li', 'raised', 'sent']]);
      const sent = sink.received.length;

      // A restart that routes the whole log again (its cursor lost) queues nothing new and sends nothing twice.
      await n.stop();
      db.prepare(`UPDATE outbox_cursors SET seq = 0 WHERE name = 'notifications'`).run();
      const again = notifier(db, alerts, () => now);
      again.start();
      expect(await again.idle()).toBe(true);
      expect(again.list().total).toBe(3);
      expect(sink.received).toHaveLength(sent);
    });
  });
}
