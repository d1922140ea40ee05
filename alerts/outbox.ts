// Consumers of the alert transition log (alert_events): notifications and
// the InfluxDB history. Each keeps its own cursor in SQLite and moves it only
// after it has handled a page, so a crash or an outage replays from the
// cursor and nothing is skipped; consumers make their work idempotent.
import type { Db } from '../storage/db.js';
import { migrate } from '../storage/migrations.js';
import type { Logger } from 'pino';
import type { AlertResult, AlertStore } from './store.js';

export interface Follower {
  /** Runs the consumer soon (coalesced). */
  kick(): void;
  /** Resolves when everything logged so far has been consumed (or `timeoutMs` passed). */
  caughtUp(timeoutMs?: number): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Follows the transition log from the consumer's cursor. `from` decides where
 * a consumer that has never run starts: 'start' (all history) or 'now'.
 */
export function follow(opts: {
  db: Db; alerts: AlertStore; name: string; from: 'start' | 'now'; log: Logger; retryMs?: number; pageSize?: number;
  consume: (events: AlertResult[]) => Promise<void> | void;
}): Follower {
  const { db, alerts, name, log } = opts;
  migrate(db, 'alerts/outbox', [{ version: 1, name: 'consumer cursors', up: 'CREATE TABLE IF NOT EXISTS outbox_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)' }]);
  db.prepare('INSERT INTO outbox_cursors (name, seq) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(name, opts.from === 'now' ? alerts.lastSeq : 0);
  const setCursor = db.prepare('UPDATE outbox_cursors SET seq = ? WHERE name = ?');
  let cursor = (db.prepare('SELECT seq FROM outbox_cursors WHERE name = ?').get(name) as { seq: number }).seq;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let failing = false;

  async function run(): Promise<void> {
    do {
      again = false;
      for (;;) {
        const events = alerts.eventsSince(cursor, opts.pageSize ?? 500);
        if (!events.length || stopped) break;
        await opts.consume(events);
        cursor = events[events.length - 1]!.seq;
        setCursor.run(cursor, name);
      }
    } while (again && !stopped);
  }

  function kick(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = run()
      .then(() => {
        if (failing) log.info({ consumer: name }, 'alert log consumer recovered');
        failing = false;
      })
      .catch((err: unknown) => {
        if (!failing) log.warn({ err, consumer: name, retryInMs: opts.retryMs ?? 2000 }, 'alert log consumer failed; retrying');
        failing = true;
        clearTimeout(retry);
        retry = setTimeout(kick, opts.retryMs ?? 2000);
        retry.unref();
      })
      .finally(() => {
        running = null;
      });
  }

  let scheduled = false;
  const off = alerts.onTransition(() => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      kick();
    });
  });
  kick();

  return {
    kick,
    async caughtUp(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (cursor >= alerts.lastSeq && !running) return true;
        await new Promise((r) => setTimeout(r, 20));
      }
      return false;
    },
    async stop() {
      stopped = true;
      off();
      clearTimeout(retry);
      await running;
    },
  };
}
