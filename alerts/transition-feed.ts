// Follow mode (cluster): a node's transition listeners hear every alert
// transition committed by ANY node, exactly once each, in seq order. The node
// reads the shared log (alert_events) from the last seq it delivered: when a
// node says it committed transitions (a notice on the bus), when the bus comes
// back after an interruption, and on a backstop timer, so a lost notice costs
// at most one backstop period. Reading by seq cursor is safe because
// transitions commit in seq order cluster-wide (AlertStore's lock until
// commit). The node's own transitions take the same path, so every listener
// sees one order, after commit.
import type { Bus } from '../common/bus.js';
import type { AlertResult } from '../domain/alerts.js';
import type { ErrorLog } from '../domain/listeners.js';

/** The bus topic on which a node says it committed transitions up to `seq`. */
export const ALERTS_TOPIC = 'alerts';

export interface FollowOptions {
  /** read the log this often even without a notice (a lost notice is caught up by then); default 1000 ms */
  backstopMs?: number;
  /** transitions read per query; more pages follow after yielding to the event loop; default 1000 */
  pageSize?: number;
}

export interface TransitionFeedDeps {
  bus: Bus;
  /** the seq to deliver after (the newest when following starts) */
  from: number;
  read(afterSeq: number, limit: number): AlertResult[];
  deliver(r: AlertResult): void;
  log: ErrorLog;
}

export class TransitionFeed {
  private cursor: number;
  /** the newest seq committed here that the other nodes have not been told of yet (0: none) */
  private announce = 0;
  private scheduled = false;
  private stopped = false;
  private failing = false;
  private readonly pageSize: number;
  private readonly offs: (() => void)[];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly deps: TransitionFeedDeps, opts: FollowOptions = {}) {
    this.cursor = deps.from;
    this.pageSize = opts.pageSize ?? 1000;
    this.offs = [
      deps.bus.on(ALERTS_TOPIC, (n) => {
        // Our own notice comes back too: nothing to read when the cursor is there already.
        const seq = (n as { seq?: unknown } | null)?.seq;
        if (!(typeof seq === 'number' && seq <= this.cursor)) this.schedule();
      }),
      deps.bus.onReconnect(() => this.schedule()),
    ];
    this.timer = setInterval(() => this.schedule(), opts.backstopMs ?? 1000);
    this.timer.unref();
  }

  /**
   * A transition committed here (its own transaction; an enclosing one commits before the next turn of the
   * event loop, transactions being synchronous): tell the other nodes and deliver it, on setImmediate.
   */
  committedHere(seq: number): void {
    this.announce = Math.max(this.announce, seq);
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.offs) off();
    clearInterval(this.timer);
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => this.poll());
  }

  /** One page of the log after the cursor, delivered; another page on the next turn when there may be more. */
  private poll(): void {
    this.scheduled = false;
    if (this.stopped) return;
    if (this.announce) {
      this.deps.bus.publish(ALERTS_TOPIC, { seq: this.announce });
      this.announce = 0;
    }
    let page: AlertResult[];
    try {
      page = this.deps.read(this.cursor, this.pageSize);
    } catch (err) {
      // The database is away: the backstop timer and the next notice read again from the same cursor.
      if (!this.failing) this.deps.log.error({ err }, 'reading the alert transition log failed; listeners hear transitions once it is back');
      this.failing = true;
      return;
    }
    this.failing = false;
    for (const r of page) {
      this.cursor = r.seq;
      this.deps.deliver(r);
    }
    if (page.length === this.pageSize) this.schedule();
  }
}
