// A set of listeners, the one shape every change notification in the code
// takes: `on(fn)` returns `off`. Listeners run after the change is committed,
// so one that throws must neither undo the change nor stop the others; its
// failure is logged where an operator sees it, never swallowed.
import pino from 'pino';

/** The part of a pino logger a listener set needs. */
export interface ErrorLog {
  error(obj: object, msg: string): void;
}

export class Listeners<A extends unknown[]> {
  private readonly fns = new Set<(...args: A) => void>();

  /** `what` names the notification in the log line, e.g. 'registry elevators change'. */
  constructor(private readonly what: string, private readonly log: ErrorLog = pino()) {}

  on(fn: (...args: A) => void): () => void {
    this.fns.add(fn);
    return () => {
      this.fns.delete(fn);
    };
  }

  clear(): void {
    this.fns.clear();
  }

  emit(...args: A): void {
    for (const fn of this.fns) {
      try {
        fn(...args);
      } catch (err) {
        this.log.error({ err }, `${this.what} listener failed`);
      }
    }
  }
}
