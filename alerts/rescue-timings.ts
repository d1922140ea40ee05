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
    const r = this.db.prepare('SELECT * FROM rescue_timings WHERE alert_id = ?').get(alertId) as TimingRow | undefined;
    return r && toTiming(r);
  }

  /**
   * Entrapments trapped in [from, to) per unit: how many, the sums and counts behind the mean arrival and
   * rescue times (means in JavaScript: AVG's type differs between backends), and arrivals slower than `lateMs`.
   */
  byUnit(from: number, to: number, lateMs: number): { unit: string | null; n: number; arrivalSum: number | null; arrivals: number; rescueSum: number | null; rescues: number; late: number }[] {
    return this.db.prepare(`SELECT unit, COUNT(*) AS n, SUM(arrived_at - trapped_at) AS "arrivalSum", COUNT(arrived_at) AS arrivals,
        SUM(released_at - trapped_at) AS "rescueSum", COUNT(released_at) AS rescues, SUM(CASE WHEN arrived_at - trapped_at > ? THEN 1 ELSE 0 END) AS late
      FROM rescue_timings WHERE trapped_at >= ? AND trapped_at < ? GROUP BY unit`).all(lateMs, from, to) as ReturnType<RescueTimings['byUnit']>;
  }

  /** The timings of these entrapment alerts (those that have one), by alert id: primary-key lookups, 500 ids a query. */
  ofAlerts(alertIds: readonly number[]): Map<number, RescueTiming> {
    const out = new Map<number, RescueTiming>();
    for (let i = 0; i < alertIds.length; i += 500) {
      const ids = alertIds.slice(i, i + 500);
      const rows = this.db.prepare(`SELECT * FROM rescue_timings WHERE alert_id IN (${ids.map(() => '?').join(', ')})`).all(...ids) as TimingRow[];
      for (const r of rows) out.set(r.alert_id, toTiming(r));
    }
    return out;
  }
}

interface TimingRow {
  alert_id: number; elevator: string; unit: string | null; trapped_at: number; dispatched_at: number | null; arrived_at: number | null; released_at: number | null;
}

const toTiming = (r: TimingRow): RescueTiming => ({
  alertId: r.alert_id, elevator: r.elevator, unit: r.unit, trappedAt: r.trapped_at, dispatchedAt: r.dispatched_at, arrivedAt: r.arrived_at, releasedAt: r.released_at,
});
