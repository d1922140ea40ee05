// The record ledger: one row per partner record (maintenance,
// inspection, complaint) and per raised elevator event, keyed by channel and
// record id, written in the ingest accept transaction (so it holds exactly
// the acknowledged records, in event time, whatever order they came in).
//
// InfluxDB keeps the same records as time series for charts and history.
// The ledger exists for the reports that join records per elevator and per
// unit over a year (scorecards, the interview list and its evidence): on
// InfluxDB 1.6 those queries took 27–76 s for a city of 30,000 elevators
// (one series per elevator and kind, a cursor per series and shard), against
// well under a second here. A re-sent record (same channel and id) replaces
// its row, as it overwrites its point in InfluxDB, so duplicates never count
// twice.
import type { Db, Statement } from './db.js';
import { migrate, type Migration } from './migrations.js';
import type { ChannelItem } from '../domain/channels.js';
import { ROUTINE_MAINTENANCE } from '../domain/messages.js';
import type { PointContext } from './points.js';

/** The channels the ledger keeps. Events only when raised: one row per fault episode. */
export const LEDGER_CHANNELS = ['maintenance', 'inspection', 'complaint', 'event'] as const;
export type LedgerChannel = (typeof LEDGER_CHANNELS)[number];

export type LedgerItem = ChannelItem & {
  /** elevator named by the topic (events), null for records */
  code: string | null;
  ctx: PointContext;
};

const COLUMNS = ['channel', 'id', 'ts', 'elevator', 'unit', 'unit_source', 'kind', 'routine', 'attempt', 'result', 'next_due', 'party', 'category'] as const;
type Row = [LedgerChannel, string, number, string | null, string | null, 'record' | 'registry', string | null, 0 | 1 | null, number | null, string | null, string | null, string | null, string | null];

const src = (own: string | undefined): 'record' | 'registry' => (own ? 'record' : 'registry');

/** A unit's figures over [from, to): what its scorecard counts (first periodic inspections, their passes, complaints). */
export interface UnitFigures {
  /** periodic inspections with attempt 1 */
  first: number;
  passed: number;
  complaints: number;
}

/** The records behind a unit's figures: failed first periodic inspections and complaints. */
export interface UnitRecords {
  failedInspections: Record<string, unknown>[];
  complaints: Record<string, unknown>[];
}

/**
 * The unit the ledger files an accepted item under: the record's own `unit`,
 * else the registry's at ingest (null for channels the ledger does not keep).
 */
export function ledgerUnit(it: LedgerItem): string | null {
  if (it.channel !== 'inspection' && it.channel !== 'complaint') return null;
  const own = it.record.unit;
  return own ?? it.ctx.unit ?? null;
}

/** The ledger row of an accepted item, or null when the ledger does not keep it (status, reading: the bulk — no allocation for them). */
function ledgerRow(it: LedgerItem): Row | null {
  const ctx = it.ctx;
  switch (it.channel) {
    case 'maintenance': {
      const m = it.record;
      return ['maintenance', m.id, m.ts, m.elevator, m.unit, 'record', m.kind, ROUTINE_MAINTENANCE.has(m.kind) ? 1 : 0, null, null, null, null, null];
    }
    case 'inspection': {
      const i = it.record;
      return ['inspection', i.id, i.ts, i.elevator, ledgerUnit(it), src(i.unit), i.kind, null, i.attempt, i.result, i.nextDue ?? null, i.institution, null];
    }
    case 'complaint': {
      const c = it.record;
      return ['complaint', c.id, c.ts, c.elevator ?? null, ledgerUnit(it), src(c.unit), null, null, null, null, null, c.source, c.category];
    }
    case 'event': {
      const e = it.record;
      if (e.state !== 'raised') return null;
      return ['event', e.id, e.ts, it.code, ctx.unit ?? null, 'registry', e.type, null, null, null, null, null, null];
    }
    default:
      return null;
  }
}

/**
 * ` INDEXED BY index` on SQLite, nothing elsewhere. Without statistics SQLite takes the primary key's channel
 * prefix for a handful of rows and would sort a province's year of records (millions) instead of walking the
 * partial index that is already in (elevator, ts) order; PostgreSQL plans the ORDER BY itself and has no such
 * clause.
 */
const sqliteIndex = (db: Db, index: string) => (db.dialect === 'sqlite' ? ` INDEXED BY ${index}` : '');

/**
 * The bucket of `ts` among ascending `bounds` as portable SQL (a CASE over named parameters: no date
 * functions, which differ between SQLite and PostgreSQL), with the period and the optional unit condition.
 */
function buckets(bounds: readonly number[], unit: string | undefined): { sql: string; unit: string; args: Record<string, unknown> } {
  if (bounds.length < 2) throw new Error(`time buckets need at least two bounds, got ${bounds.length}`);
  const args: Record<string, unknown> = { from: bounds[0], to: bounds.at(-1) };
  const inner = bounds.slice(1, -1);
  inner.forEach((b, i) => (args[`b${i}`] = b));
  const sql = inner.length ? `CASE ${inner.map((_, i) => `WHEN ts < @b${i} THEN ${i}`).join(' ')} ELSE ${inner.length} END` : '0';
  if (unit !== undefined) args.unit = unit;
  return { sql, unit: unit !== undefined ? ' AND unit = @unit' : '', args };
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'records',
    up: `CREATE TABLE IF NOT EXISTS records (
        channel TEXT NOT NULL, id TEXT NOT NULL, ts INTEGER NOT NULL, elevator TEXT, unit TEXT, unit_source TEXT NOT NULL,
        kind TEXT, routine INTEGER, attempt INTEGER, result TEXT, next_due TEXT, party TEXT, category TEXT,
        PRIMARY KEY (channel, id)) WITHOUT ROWID;
      -- counts per unit over a period (covering for maintenance), evidence of a unit
      CREATE INDEX IF NOT EXISTS records_by_unit ON records (channel, unit, ts, routine);
      -- routine maintenance per elevator in time order: the gaps
      CREATE INDEX IF NOT EXISTS records_routine ON records (elevator, ts, unit) WHERE channel = 'maintenance' AND routine = 1;
      -- passing periodic inspections per elevator in time order: the due dates they set
      CREATE INDEX IF NOT EXISTS records_passes ON records (elevator, ts, next_due) WHERE channel = 'inspection' AND kind = 'periodic' AND result = 'pass';
      -- one elevator's history, newest first (the dashboard's elevator page)
      CREATE INDEX IF NOT EXISTS records_by_elevator ON records (elevator, channel, ts) WHERE elevator IS NOT NULL;`,
  },
];

export class RecordLedger {
  private readonly upsert: Statement;
  private readonly putMany: (rows: Row[]) => void;
  private readonly figures: Statement;
  private readonly failed: Statement;
  private readonly complaintRows: Statement;

  constructor(readonly db: Db) {
    migrate(db, 'storage/ledger', MIGRATIONS);
    this.upsert = db.prepare(`INSERT INTO records (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})
      ON CONFLICT (channel, id) DO UPDATE SET ${COLUMNS.slice(2).map((c) => `${c} = excluded.${c}`).join(', ')}`);
    this.putMany = db.transaction((rows: Row[]) => {
      this.upsert.runMany(rows);
    });
    // Per unit over a window, on records_by_unit (channel, unit, ts): one index range per channel, however big the city.
    this.figures = db.prepare(`SELECT
        (SELECT COUNT(*) FROM records WHERE channel = 'inspection' AND unit = @unit AND ts >= @from AND ts < @to AND kind = 'periodic' AND attempt = 1) first,
        (SELECT COUNT(*) FROM records WHERE channel = 'inspection' AND unit = @unit AND ts >= @from AND ts < @to AND kind = 'periodic' AND attempt = 1 AND result = 'pass') passed,
        (SELECT COUNT(*) FROM records WHERE channel = 'complaint' AND unit = @unit AND ts >= @from AND ts < @to) complaints`);
    this.failed = db.prepare(`SELECT ts AS time, elevator, party AS institution, attempt, id, unit_source FROM records
      WHERE channel = 'inspection' AND unit = @unit AND ts >= @from AND ts < @to AND kind = 'periodic' AND attempt = 1 AND result = 'fail' ORDER BY CASE WHEN @newest = 1 THEN -ts ELSE ts END LIMIT @limit`);
    this.complaintRows = db.prepare(`SELECT ts AS time, id, party AS source, category, elevator, unit_source FROM records
      WHERE channel = 'complaint' AND unit = @unit AND ts >= @from AND ts < @to ORDER BY CASE WHEN @newest = 1 THEN -ts ELSE ts END LIMIT @limit`);
  }

  /** One unit's scorecard figures over [from, to) (epoch ms, event time). */
  unitFigures(unit: string, from: number, to: number): UnitFigures {
    return this.figures.get({ unit, from, to }) as UnitFigures;
  }

  /** The records behind one unit's figures over [from, to), at most `limit` of each kind, the oldest or the newest first. */
  unitRecords(unit: string, from: number, to: number, limit: number, order: 'oldest' | 'newest' = 'oldest'): UnitRecords {
    const q = { unit, from, to, limit, newest: order === 'newest' ? 1 : 0 };
    return { failedInspections: this.failed.all(q) as Record<string, unknown>[], complaints: this.complaintRows.all(q) as Record<string, unknown>[] };
  }

  /** Records the ledger keeps from a batch of accepted items; runs in the caller's transaction when there is one. */
  add(items: readonly LedgerItem[]): void {
    let rows: Row[] | undefined;
    for (const it of items) {
      const r = ledgerRow(it);
      if (r) (rows ??= []).push(r);
    }
    if (!rows) return;
    // Inside the ingest accept transaction already: no savepoint per batch.
    if (this.db.inTransaction) this.upsert.runMany(rows);
    else this.putMany(rows);
  }

  /**
   * Periodic inspections per unit and time bucket (`bounds` ascending: bucket i is [bounds[i], bounds[i + 1])):
   * first attempts, their passes, re-inspections. Only `unit`'s when given.
   */
  inspectionsByUnit(bounds: readonly number[], unit?: string): { unit: string | null; bucket: number; first: number; passed: number; rein: number }[] {
    const b = buckets(bounds, unit);
    return this.db.prepare(`SELECT unit, ${b.sql} AS bucket, SUM(CASE WHEN attempt = 1 THEN 1 ELSE 0 END) AS "first",
        SUM(CASE WHEN attempt = 1 AND result = 'pass' THEN 1 ELSE 0 END) AS passed, SUM(CASE WHEN attempt > 1 THEN 1 ELSE 0 END) AS rein
      FROM records WHERE channel = 'inspection' AND kind = 'periodic' AND ts >= @from AND ts < @to${b.unit} GROUP BY unit, bucket`)
      .all(b.args) as { unit: string | null; bucket: number; first: number; passed: number; rein: number }[];
  }

  /** Complaints per unit and time bucket (as inspectionsByUnit). */
  complaintsByUnit(bounds: readonly number[], unit?: string): { unit: string | null; bucket: number; n: number }[] {
    const b = buckets(bounds, unit);
    return this.db.prepare(`SELECT unit, ${b.sql} AS bucket, COUNT(*) AS n FROM records WHERE channel = 'complaint' AND ts >= @from AND ts < @to${b.unit} GROUP BY unit, bucket`)
      .all(b.args) as { unit: string | null; bucket: number; n: number }[];
  }

  /** Maintenance records (all, and routine) per unit over [from, to). */
  maintenanceByUnit(from: number, to: number): { unit: string | null; n: number; routine: number }[] {
    return this.db.prepare(`SELECT unit, COUNT(*) AS n, SUM(routine) AS routine FROM records WHERE channel = 'maintenance' AND ts >= ? AND ts < ? GROUP BY unit`)
      .all(from, to) as { unit: string | null; n: number; routine: number }[];
  }

  /** Raised events of these types per unit over [from, to). */
  eventsByUnit(types: readonly string[], from: number, to: number): { unit: string | null; n: number }[] {
    if (!types.length) return [];
    return this.db.prepare(`SELECT unit, COUNT(*) AS n FROM records WHERE channel = 'event' AND kind IN (${types.map(() => '?').join(', ')}) AND ts >= ? AND ts < ? GROUP BY unit`)
      .all(...types, from, to) as { unit: string | null; n: number }[];
  }

  /** Routine maintenance over [from, to) as [elevator, ts, unit], per elevator in time order (the partial index records_routine: no sort), streamed. */
  routineMaintenance(from: number, to: number): Iterable<[string, number, string]> {
    return this.db.prepare(`SELECT elevator, ts, unit FROM records${sqliteIndex(this.db, 'records_routine')} WHERE channel = 'maintenance' AND routine = 1 AND ts >= ? AND ts < ? ORDER BY elevator, ts`)
      .raw().iterate(from, to) as Iterable<[string, number, string]>;
  }

  /** Passing periodic inspections over [from, to) as [elevator, ts, next due date], per elevator in time order (records_passes), streamed. */
  periodicPasses(from: number, to: number): Iterable<[string, number, string | null]> {
    return this.db.prepare(`SELECT elevator, ts, next_due FROM records${sqliteIndex(this.db, 'records_passes')} WHERE channel = 'inspection' AND kind = 'periodic' AND result = 'pass' AND ts >= ? AND ts < ? ORDER BY elevator, ts`)
      .raw().iterate(from, to) as Iterable<[string, number, string | null]>;
  }

  /** One elevator's maintenance records, newest first (on records_by_elevator). */
  maintenanceOf(elevator: string, limit = 100): { at: number; id: string; kind: string; routine: boolean; unit: string | null }[] {
    const rows = this.db.prepare(`SELECT ts AS at, id, kind, routine, unit FROM records WHERE elevator = ? AND channel = 'maintenance' ORDER BY ts DESC LIMIT ?`)
      .all(elevator, limit) as { at: number; id: string; kind: string; routine: number; unit: string | null }[];
    return rows.map((r) => ({ ...r, routine: r.routine === 1 }));
  }

  /** One elevator's inspections, newest first. */
  inspectionsOf(elevator: string, limit = 100): { at: number; id: string; kind: string; result: string; attempt: number; institution: string; nextDue: string | null; unit: string | null }[] {
    return this.db.prepare(`SELECT ts AS at, id, kind, result, attempt, party AS institution, next_due AS "nextDue", unit FROM records
      WHERE elevator = ? AND channel = 'inspection' ORDER BY ts DESC LIMIT ?`).all(elevator, limit) as ReturnType<RecordLedger['inspectionsOf']>;
  }

  /** One elevator's raised events (one per fault episode), newest first. */
  eventsOf(elevator: string, limit = 50): { at: number; id: string; type: string }[] {
    return this.db.prepare(`SELECT ts AS at, id, kind AS type FROM records WHERE elevator = ? AND channel = 'event' ORDER BY ts DESC LIMIT ?`).all(elevator, limit) as { at: number; id: string; type: string }[];
  }

  /**
   * Per elevator over [from, to): raised fault events other than entrapments, entrapments, failed inspections
   * and complaints (the risk levels). One query for every elevator, not one per elevator, a page of `limit`
   * elevators after `after` at a time (in code order on records_by_elevator: no sort), so a caller can yield
   * between pages instead of holding the event loop for a province at once.
   */
  riskCountsByElevator(from: number, to: number, after: string | null, limit: number): { elevator: string; faults: number; entrapments: number; failedInspections: number; complaints: number }[] {
    const rows = this.db.prepare(`SELECT elevator,
        SUM(CASE WHEN channel = 'event' AND kind <> 'entrapment' THEN 1 ELSE 0 END),
        SUM(CASE WHEN channel = 'event' AND kind = 'entrapment' THEN 1 ELSE 0 END),
        SUM(CASE WHEN channel = 'inspection' AND result = 'fail' THEN 1 ELSE 0 END),
        SUM(CASE WHEN channel = 'complaint' THEN 1 ELSE 0 END)
      FROM records${sqliteIndex(this.db, 'records_by_elevator')} WHERE elevator IS NOT NULL AND elevator > ? AND channel IN ('event', 'inspection', 'complaint') AND ts >= ? AND ts < ?
      GROUP BY elevator ORDER BY elevator LIMIT ?`)
      .raw().all(after ?? '', from, to, limit) as [string, number, number, number, number][];
    return rows.map(([elevator, faults, entrapments, failedInspections, complaints]) => ({ elevator, faults: Number(faults), entrapments: Number(entrapments), failedInspections: Number(failedInspections), complaints: Number(complaints) }));
  }

  count(channel?: LedgerChannel): number {
    const q = channel ? this.db.prepare('SELECT COUNT(*) n FROM records WHERE channel = ?').get(channel) : this.db.prepare('SELECT COUNT(*) n FROM records').get();
    return (q as { n: number }).n;
  }
}
