// Notifications: routes every alert transition to the contacts kept in the
// registry and delivers it by webhook (generic JSON, DingTalk, WeCom).
//
// Routing happens on the transition log (outbox), so a transition committed
// just before a crash is still routed after the restart. Each (transition,
// contact) is one row of the notification log, unique, so routing twice never
// sends twice; the row records every attempt's outcome. Delivery retries
// with exponential backoff up to NOTIFY_MAX_ATTEMPTS.
//
// Late data: a transition processed long after its event time (a gateway's
// buffer after an outage, a backfill) is recorded and shown but not paged as
// if it were news. A late raise is held for a grace period and sent only if
// the alert is still active then; older than the historical limit it is
// never paged. Acknowledgements and resolutions go only to contacts who were
// told of the alert.
import type { Db } from '../../storage/db.js';
import { migrate } from '../../storage/migrations.js';
import type { Logger } from 'pino';
import { atLeast, isCityWide } from '../../domain/alerts.js';
import type { Registry } from '../../registry/registry.js';
import type { Contact } from '../../registry/schemas.js';
import type { Metrics } from '../../common/metrics.js';
import { follow, type Follower } from '../outbox.js';
import type { AlertResult, AlertStore, Transition } from '../store.js';
import { sorting, type SortOf } from '../../storage/sort.js';
import { render, robotError } from './formats.js';
import { WebhookRefused, WebhookTargets } from './target.js';

export interface NotifyConfig {
  /** a transition processed more than this after its event time is late */
  lateAfterMs: number;
  /** a late raise is sent only if the alert is still active this long after it was processed */
  lateGraceMs: number;
  /** a raise processed more than this after its event time is historical: recorded, never paged */
  historicalAfterMs: number;
  maxAttempts: number;
  /** first retry delay; doubles per attempt up to 5 minutes */
  retryBaseMs: number;
  timeoutMs: number;
  concurrency: number;
  /** base URL of the dashboard, for links in messages */
  dashboardUrl?: string | undefined;
}

export const DEFAULT_NOTIFY: NotifyConfig = {
  lateAfterMs: 10 * 60_000, lateGraceMs: 30_000, historicalAfterMs: 6 * 3_600_000, maxAttempts: 8, retryBaseMs: 2000, timeoutMs: 5000, concurrency: 8,
};

export type NotificationStatus = 'pending' | 'held' | 'sent' | 'failed' | 'suppressed';

export interface Notification {
  id: number;
  seq: number;
  alertId: number;
  transition: Transition;
  contact: string;
  format: string;
  status: NotificationStatus;
  attempts: number;
  nextAt: number;
  createdAt: number;
  sentAt: number | null;
  lastError: string | null;
  reason: string | null;
}

/** Transitions people are told about; repeats and notes only update the screen. */
const PAGED: ReadonlySet<Transition> = new Set(['raised', 'severity_raised', 'escalated', 'reminded', 'acknowledged', 'resolved']);
/** Transitions that are news of the condition itself: late or historical data holds or suppresses them by their own lag. */
const NEWS: ReadonlySet<Transition> = new Set(['raised', 'severity_raised']);
const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Sort keys of the notification list (`-` first for descending); ties go by id. The default, `-id`, is newest first.
 * Not yet sent sorts first, as SQLite orders NULL (PostgreSQL puts it last).
 */
export const NOTIFICATION_SORT = sorting({ id: 'id', createdAt: 'created_at', status: 'status', attempts: 'attempts', nextAt: 'next_at', sentAt: 'COALESCE(sent_at, -1)' }, 'id');
export type NotificationSort = SortOf<typeof NOTIFICATION_SORT>;

export class Notifier {
  private follower: Follower | undefined;
  private timer: NodeJS.Timeout | undefined;
  private delivering: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly cfg: NotifyConfig;
  private readonly now: () => number;
  private insert;
  private update;

  private readonly targets: WebhookTargets;

  constructor(private deps: { db: Db; alerts: AlertStore; registry: Registry; log: Logger; metrics?: Metrics; config?: Partial<NotifyConfig>; clock?: () => number; targets?: WebhookTargets }) {
    this.cfg = { ...DEFAULT_NOTIFY, ...deps.config };
    this.targets = deps.targets ?? new WebhookTargets();
    this.now = deps.clock ?? Date.now;
    const { db } = deps;
    migrate(db, 'alerts/notify/notifier', [{
      version: 1,
      name: 'notification log',
      up: `CREATE TABLE IF NOT EXISTS notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER NOT NULL, alert_id INTEGER NOT NULL, transition TEXT NOT NULL, contact TEXT NOT NULL,
        format TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, created_at INTEGER NOT NULL,
        sent_at INTEGER, last_error TEXT, reason TEXT, UNIQUE (seq, contact));
      CREATE INDEX IF NOT EXISTS notifications_due ON notifications (status, next_at);
      CREATE INDEX IF NOT EXISTS notifications_alert ON notifications (alert_id)`,
    }]);
    this.insert = db.prepare(`INSERT INTO notifications (seq, alert_id, transition, contact, format, status, next_at, created_at, reason)
      VALUES (@seq, @alertId, @transition, @contact, @format, @status, @nextAt, @createdAt, @reason) ON CONFLICT (seq, contact) DO NOTHING`);
    this.update = db.prepare('UPDATE notifications SET status = @status, attempts = @attempts, next_at = @nextAt, sent_at = @sentAt, last_error = @lastError, reason = COALESCE(@reason, reason) WHERE id = @id');
  }

  /** Starts routing and delivering; again after stop() too (a cluster node that becomes leader again). */
  start(): void {
    if (this.follower && !this.stopped) return;
    this.stopped = false;
    // A new installation starts paging from now, not from the whole history.
    this.follower = follow({
      db: this.deps.db, alerts: this.deps.alerts, name: 'notifications', from: 'now', log: this.deps.log,
      consume: (events) => {
        this.deps.db.transaction(() => events.forEach((e) => this.route(e)))();
        this.kick();
      },
    });
    this.timer = setInterval(() => this.kick(), 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.follower?.stop();
    await this.delivering;
  }

  /** Resolves when every transition is routed and every notification has reached a final state (sent, failed, suppressed). */
  async idle(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (!(await this.follower?.caughtUp(timeoutMs))) return false;
    while (Date.now() < deadline) {
      const due = this.deps.db.prepare(`SELECT COUNT(*) n FROM notifications WHERE status IN ('pending', 'held')`).get() as { n: number };
      if (!due.n && !this.delivering) return true;
      this.kick();
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  list(q: { alertId?: number | undefined; status?: NotificationStatus | undefined; contact?: string | undefined; page?: number; pageSize?: number; districts?: string[] | null | undefined; sort?: NotificationSort | undefined } = {}) {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.alertId !== undefined) (where.push('alert_id = @alertId'), (args.alertId = q.alertId));
    if (q.status) (where.push('status = @status'), (args.status = q.status));
    if (q.contact) (where.push('contact = @contact'), (args.contact = q.contact));
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    const order = NOTIFICATION_SORT.order(q.sort ?? '-id');
    const { db } = this.deps;
    if (!q.districts) {
      const total = (db.prepare(`SELECT COUNT(*) AS n FROM notifications ${w}`).get(args) as { n: number }).n;
      const rows = db.prepare(`SELECT * FROM notifications ${w} ORDER BY ${order} LIMIT @limit OFFSET @offset`).all({ ...args, limit: pageSize, offset: (page - 1) * pageSize }) as Record<string, unknown>[];
      return { items: rows.map(toNotification), total, page, pageSize };
    }
    // districts (a caller's scope): only notifications of alerts in these districts and city-wide ones. The
    // district is the alert's, and the alert store owns that table: it names the alerts the caller may see
    // (one pass over the alerts, as the subquery this replaces made), and the page is cut here from the
    // notifications' (id, alert id) pairs in order — two integers a row, then at most a page of whole rows.
    const visible = this.deps.alerts.idsInDistricts(q.districts);
    const from = (page - 1) * pageSize;
    const ids: number[] = [];
    let total = 0;
    for (const [id, alertId] of db.prepare(`SELECT id, alert_id FROM notifications ${w} ORDER BY ${order}`).raw().iterate(args) as Iterable<[number, number]>) {
      if (!visible.has(alertId)) continue;
      if (total >= from && ids.length < pageSize) ids.push(id);
      total++;
    }
    const rows = ids.length ? db.prepare(`SELECT * FROM notifications WHERE id IN (${ids.map(() => '?').join(', ')}) ORDER BY ${order}`).all(...ids) as Record<string, unknown>[] : [];
    return { items: rows.map(toNotification), total, page, pageSize };
  }

  /** Who hears of this transition, and whether now, later or never. */
  private route(ev: AlertResult): void {
    if (!PAGED.has(ev.transition)) return;
    const a = ev.alert;
    const now = this.now();
    // A unit's alert may be about a part of it (`U1:order-7`): the unit it names decides the districts.
    const districts = isCityWide(a) ? this.unitDistricts(a.unit ?? a.subject) : a.district !== null ? [a.district] : [];
    const covers = (c: Contact) => c.enabled && (c.districts.length === 0 || districts.some((d) => c.districts.includes(d))) && atLeast(a.severity, c.minSeverity);
    let recipients: Contact[];
    let status: NotificationStatus = 'pending';
    let nextAt = now;
    let reason: string | null = null;
    if (ev.transition === 'acknowledged' || ev.transition === 'resolved') {
      // Close the loop with whoever was told of the alert, and nobody else.
      const told = new Set((this.deps.db.prepare(`SELECT DISTINCT contact FROM notifications WHERE alert_id = ? AND status IN ('sent', 'pending')`).all(a.id) as { contact: string }[]).map((r) => r.contact));
      recipients = [...told].map((id) => this.deps.registry.contacts.get(id)).filter((c): c is Contact => c !== undefined && c.enabled);
    } else {
      // The snapshot carries the severity after the transition: a severity rise reaches the contacts of the new severity.
      recipients = [...this.deps.registry.contacts.items.values()].filter((c) => covers(c) && c.level <= a.escalation);
      const lag = NEWS.has(ev.transition) ? ev.lagMs : a.openedLagMs;
      if (lag > this.cfg.historicalAfterMs) {
        status = 'suppressed';
        reason = `historical data (processed ${Math.round(lag / 60_000)} min after its event time): recorded, not paged`;
      } else if (NEWS.has(ev.transition) && lag > this.cfg.lateAfterMs) {
        status = 'held';
        nextAt = now + this.cfg.lateGraceMs;
        reason = `late data (processed ${Math.round(lag / 60_000)} min after its event time): sent only if still active after ${this.cfg.lateGraceMs / 1000} s`;
      }
    }
    for (const c of recipients) {
      this.insert.run({ seq: ev.seq, alertId: a.id, transition: ev.transition, contact: c.id, format: c.format, status, nextAt, createdAt: now, reason });
      if (status === 'suppressed') this.deps.metrics?.notifications.inc({ format: c.format, status });
    }
  }

  /** Districts where a maintenance unit maintains elevators: who hears of an alert about the unit. Unit alerts are rare, so a scan will do. */
  private unitDistricts(unit: string): string[] {
    const out = new Set<string>();
    for (const e of this.deps.registry.elevators.items.values()) if (e.maintenanceUnit === unit) out.add(e.district);
    return [...out];
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.delivering) {
      this.again = true;
      return;
    }
    this.delivering = this.deliverDue()
      .catch((err: unknown) => this.deps.log.error({ err }, 'notification delivery failed'))
      .finally(() => {
        this.delivering = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async deliverDue(): Promise<void> {
    for (;;) {
      const rows = (this.deps.db.prepare(`SELECT * FROM notifications WHERE status IN ('pending', 'held') AND next_at <= ? ORDER BY next_at, id LIMIT ?`)
        .all(this.now(), this.cfg.concurrency) as Record<string, unknown>[]).map(toNotification);
      if (!rows.length || this.stopped) return;
      await Promise.all(rows.map((n) => this.deliver(n)));
    }
  }

  private async deliver(n: Notification): Promise<void> {
    const { alerts, registry, metrics, log } = this.deps;
    const finish = (status: NotificationStatus, fields: Partial<Notification> = {}) => {
      this.update.run({ id: n.id, status, attempts: fields.attempts ?? n.attempts, nextAt: fields.nextAt ?? n.nextAt, sentAt: fields.sentAt ?? null, lastError: fields.lastError ?? n.lastError, reason: fields.reason ?? null });
      metrics?.notifications.inc({ format: n.format, status: status === 'pending' ? 'retry' : status });
    };
    const contact = registry.contacts.get(n.contact);
    const ev = alerts.transitionAt(n.seq);
    if (!contact || !contact.enabled || !ev) return finish('suppressed', { reason: !ev ? 'transition no longer in the log' : `contact ${n.contact} removed or disabled` });
    if (n.status === 'held' && alerts.get(n.alertId)?.state === 'resolved') {
      return finish('suppressed', { reason: 'late data: the condition was over before it could be paged; recorded, not paged' });
    }
    const attempts = n.attempts + 1;
    const req = render(ev, contact, `${n.seq}:${n.contact}`, this.now(), this.cfg.dashboardUrl);
    let error: string | null;
    try {
      const res = await this.targets.post(req.url, { headers: req.headers, body: req.body, timeoutMs: this.cfg.timeoutMs });
      error = robotError(contact.format, res.status, res.text);
    } catch (err) {
      if (err instanceof WebhookRefused) {
        // Not a delivery problem that a retry could fix: the target itself is refused.
        metrics?.webhookRefusals.inc({ reason: err.reason });
        log.warn({ contact: n.contact, alert: n.alertId, reason: err.reason }, err.message);
        return finish('failed', { attempts, lastError: err.message });
      }
      const e = err as Error & { cause?: Error };
      error = e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError' ? `no answer within ${this.cfg.timeoutMs} ms` : String(e.cause?.message ?? e.message);
    }
    if (!error) return finish('sent', { attempts, sentAt: this.now(), lastError: null });
    if (attempts >= this.cfg.maxAttempts) {
      log.error({ contact: n.contact, alert: n.alertId, transition: n.transition, attempts, error }, 'notification failed for good');
      return finish('failed', { attempts, lastError: error });
    }
    const delay = Math.min(MAX_BACKOFF_MS, this.cfg.retryBaseMs * 2 ** (attempts - 1)) * (0.8 + Math.random() * 0.4);
    log.warn({ contact: n.contact, alert: n.alertId, attempts, error, retryInMs: Math.round(delay) }, 'notification not delivered; will retry');
    return finish('pending', { attempts, nextAt: this.now() + Math.round(delay), lastError: error });
  }
}

const toNotification = (r: Record<string, unknown>): Notification => ({
  id: r.id as number, seq: r.seq as number, alertId: r.alert_id as number, transition: r.transition as Transition, contact: r.contact as string,
  format: r.format as string, status: r.status as NotificationStatus, attempts: r.attempts as number, nextAt: r.next_at as number,
  createdAt: r.created_at as number, sentAt: r.sent_at as number | null, lastError: r.last_error as string | null, reason: r.reason as string | null,
});
