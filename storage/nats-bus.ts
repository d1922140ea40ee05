// The Bus (common/bus.ts) on core NATS: one subject per topic under a prefix,
// JSON bodies, at most once. Shares the node's NATS connection.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Bus } from '../common/bus.js';
import { Listeners } from '../domain/listeners.js';

/** Notices larger than this are refused by publish (they are pointers, never data). */
const MAX_NOTICE_BYTES = 64 * 1024;

export class NatsBus implements Bus {
  private readonly subs = new Set<Subscription>();
  private readonly reconnects: Listeners<[]>;
  private closed = false;
  private readonly nc: NatsConnection;
  private readonly log: Logger;
  private readonly prefix: string;

  constructor(nc: NatsConnection, log: Logger, prefix = 'se.bus') {
    this.nc = nc;
    this.log = log;
    this.prefix = prefix;
    const reconnects = (this.reconnects = new Listeners('bus reconnect', log));
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') reconnects.emit();
    })().catch(() => undefined);
  }

  publish(topic: string, notice: unknown): void {
    if (this.closed) return;
    const body = JSON.stringify(notice);
    if (body.length > MAX_NOTICE_BYTES) {
      this.log.error({ topic, bytes: body.length }, 'bus notice too large; not sent');
      return;
    }
    try {
      this.nc.publish(`${this.prefix}.${topic}`, body);
    } catch (err) {
      // closed or draining connection: the receivers catch up on reconnect
      this.log.warn({ err, topic }, 'bus notice not sent');
    }
  }

  on(topic: string, fn: (notice: unknown) => void): () => void {
    const sub = this.nc.subscribe(`${this.prefix}.${topic}`, {
      callback: (err, m) => {
        if (err) return;
        try {
          fn(m.json());
        } catch (e) {
          this.log.error({ err: e, topic }, 'bus notice listener failed');
        }
      },
    });
    this.subs.add(sub);
    return () => {
      this.subs.delete(sub);
      sub.unsubscribe();
    };
  }

  onReconnect(fn: () => void): () => void {
    return this.reconnects.on(fn);
  }

  /** Unsubscribes everything (the connection belongs to its owner). */
  close(): void {
    this.closed = true;
    for (const s of this.subs) s.unsubscribe();
    this.subs.clear();
    this.reconnects.clear();
  }
}
