// Rescue timings per entrapment: when the unit was dispatched, arrived and
// released the passengers (event time), for escalation now and for the
// per-unit response and rescue statistics.
import type { Db } from '../storage/db.js';
import { migrate } from '../storage/migrations.js';

export interface RescueTiming {
  alertId: number;
  elevator: string;
  unit: string | null;
  trappedAt: number;
  dispatchedAt: number | null;
  arrivedAt: number | null;
  releasedAt: number | null;
}

const COLUMN = { dispatched: 'dispatched_at', arrived: 'arrived_at', released: 'released_at', false_alarm: 'released_at' } as const;

export class RescueTimings {
  constructor(private db: Db) {
    migrate(db, 'alerts/rescue-timings', [{
      version: 1,
      name: 'rescue timings',
      up: `CREATE TABLE IF NOT EXISTS rescue_timings (alert_id INTEGER PRIMARY KEY, elevator TEXT NOT NULL, unit TEXT,
        trapped_at INTEGER NOT NULL, dispatched_at INTEGER, arrived_at INTEGER, released_at INTEGER)`,
    }]);
  }

  open(alertId: number, elevator: string, unit: string | null, trappedAt: number): void {
    this.db.prepare('INSERT INTO rescue_timings (alert_id, elevator, unit, trapped_at) VALUES (?, ?, ?, ?) ON CONFLICT (alert_id) DO NOTHING').run(alertId, elevator, unit, trappedAt);
  }

  /** Records the first time each stage was reached. */
  stage(alertId: number, stage: keyof typeof COLUMN, at: number): void {
    const col = COLUMN[stage];
    this.db.prepare(`UPDATE rescue_timings SET ${col} = CASE WHEN ${col} IS NULL OR ${col} > ? THEN ? ELSE ${col} END WHERE alert_id = ?`).run(at, at, alertId);
  }

  get(alertId: number): RescueTiming | undefined {
    const r = this.db.prepare('SELECT * FROM rescue_timings WHERE alert_id = ?').get(alertId) as Record<string, number | string | null> | undefined;
    return r && {
      alertId: r.alert_id as number, elevator: r.elevator as string, unit: r.unit as string | null, trappedAt: r.trapped_at as number,
      dispatchedAt: r.dispatched_at as number | null, arrivedAt: r.arrived_at as number | null, releasedAt: r.released_at as number | null,
    };
  }
}
