// The shell of the unit-rates rule (rules/unit-rates.ts). When inspection or
// complaint records are accepted it re-evaluates only the units they belong
// to, inside the ingest accept transaction (so each record counts exactly
// once, with the ledger rows written by the listener before it): a few
// counts on the ledger's per-unit index, not a scorecard for the city. Once a
// day (alerts/scheduled.ts, rule `unit-rates`) every unit is evaluated again,
// which resolves flags whose records aged out of the twelve months and
// follows registry changes (elevators moving between units).
import type { Db } from '../storage/db.js';
import type { Logger } from 'pino';
import type { IngestedItem } from '../ingest/pipeline.js';
import type { Registry } from '../registry/registry.js';
import { ledgerUnit, type RecordLedger } from '../storage/ledger.js';
import { rollingWindow, UNIT_RATES_ALERT, unitRates, unitRateStep, type Criterion, type UnitRateCriteria, type UnitRateFigures } from './rules/unit-rates.js';
import type { Alert, AlertStore } from './store.js';

export interface UnitFlagsOptions {
  db: Db;
  alerts: AlertStore;
  registry: Registry;
  ledger: RecordLedger;
  criteria: UnitRateCriteria;
  log: Logger;
  clock?: () => number;
}

/** Records kept as evidence per kind (newest first): enough to show why, small enough for every transition's snapshot. */
const EVIDENCE_RECORDS = 20;

/** What the daily pass did (the scheduler's run log). */
export interface UnitFlagsRun {
  checked: number;
  raised: number;
  resolved: number;
  stillActive: number;
  error: string | null;
}

export class UnitFlags {
  private readonly clock: () => number;
  /** elevators per unit (the complaint rate's denominator) and each elevator's unit, kept up to date by the registry hook */
  private counts: { byUnit: Map<string, number>; unitOf: Map<string, string> } | null = null;
  private readonly cleanups: (() => void)[] = [];

  constructor(private readonly opts: UnitFlagsOptions) {
    this.clock = opts.clock ?? Date.now;
    this.cleanups.push(opts.registry.elevators.onChange((code, e) => this.moved(code, e?.maintenanceUnit)));
  }

  stop(): void {
    for (const c of this.cleanups.splice(0)) c();
  }

  /** Accepted items (in the accept transaction, after the ledger wrote them): re-evaluates each unit they touch, once. */
  onAccepted(items: readonly IngestedItem[]): void {
    let touched: Map<string, number> | undefined;
    for (const it of items) {
      const unit = ledgerUnit(it);
      if (unit === null) continue;
      touched ??= new Map();
      touched.set(unit, Math.max(touched.get(unit) ?? -Infinity, it.record.ts));
    }
    if (!touched) return;
    const now = this.clock();
    const w = rollingWindow(now);
    for (const [unit, ts] of touched) {
      try {
        // The occurrence is the newest record, kept inside the window (a record older than a year changes nothing).
        this.evaluate(unit, Math.min(Math.max(ts, w.from), now), now, { trigger: 'record' });
      } catch (err) {
        this.opts.log.error({ err, unit }, 'unit rates: could not evaluate a unit');
      }
    }
  }

  /** Every unit (and every unit with an active flag) evaluated now, in one transaction: the daily run. */
  reevaluate(now = this.clock()): UnitFlagsRun {
    const { db, registry, alerts } = this.opts;
    const units = new Set([...registry.units.items.keys(), ...alerts.unresolved({ type: UNIT_RATES_ALERT }).map((a) => a.subject)]);
    let raised = 0;
    let resolved = 0;
    const failures: string[] = [];
    this.counts = null; // recounted once a day, whatever happened
    db.transaction(() => {
      for (const unit of units) {
        try {
          const r = this.evaluate(unit, now, now, { trigger: 'daily' });
          if (r === 'raised') raised++;
          else if (r === 'resolved') resolved++;
        } catch (err) {
          failures.push(`${unit}: ${(err as Error).message}`);
        }
      }
    })();
    const stillActive = alerts.unresolved({ type: UNIT_RATES_ALERT }).length;
    return { checked: units.size, raised, resolved, stillActive, error: failures.length ? `${failures.length} unit(s) failed, first: ${failures[0]}` : null };
  }

  /** One unit's figures over the rolling twelve months as of `now`. */
  figures(unit: string, now = this.clock()): UnitRateFigures {
    const w = rollingWindow(now);
    return { ...this.opts.ledger.unitFigures(unit, w.from, w.to), elevators: this.elevatorsOf(unit) };
  }

  private evaluate(unit: string, at: number, now: number, trigger: { trigger: 'record' | 'daily' }): 'raised' | 'resolved' | 'none' {
    const { alerts, criteria } = this.opts;
    const active = alerts.active(UNIT_RATES_ALERT, 'maintenance_unit', unit);
    // A unit no longer in the registry has nothing to be flagged for.
    const f = this.opts.registry.units.get(unit) ? this.figures(unit, now) : { first: 0, passed: 0, complaints: 0, elevators: 0 };
    const action = unitRateStep(active ? criteriaOf(active) : null, f, criteria);
    if (action.kind === 'none') return 'none';
    const lagMs = Math.max(0, now - at);
    if (action.kind === 'resolve') {
      alerts.resolve(active!.id, 'system', action.reason, Math.max(at, active!.firstAt), lagMs);
      return 'resolved';
    }
    const w = rollingWindow(now);
    const records = this.opts.ledger.unitRecords(unit, w.from, w.to, EVIDENCE_RECORDS, 'newest');
    alerts.raise({
      type: UNIT_RATES_ALERT, severity: 'major', subjectKind: 'maintenance_unit', subject: unit, unit, at, lagMs,
      evidence: {
        rule: 'unit-rates', ...trigger, window: { from: w.fromDate, to: w.toDate }, figures: { ...f, ...unitRates(f, criteria) }, findings: action.findings,
        criteria, failedInspections: records.failedInspections, complaints: records.complaints, checkedAt: now,
      },
    });
    return action.repeat ? 'none' : 'raised';
  }

  private elevatorsOf(unit: string): number {
    if (!this.counts) {
      this.counts = { byUnit: new Map(), unitOf: new Map() };
      for (const e of this.opts.registry.elevators.items.values()) this.moved(e.code, e.maintenanceUnit);
    }
    return this.counts.byUnit.get(unit) ?? 0;
  }

  /** An elevator now belongs to `unit` (undefined: removed). O(1), as inspections patch the registry in the accept transaction. */
  private moved(code: string, unit: string | undefined): void {
    const c = this.counts;
    if (!c) return;
    const old = c.unitOf.get(code);
    if (old === unit) return;
    if (old !== undefined) c.byUnit.set(old, c.byUnit.get(old)! - 1);
    if (unit === undefined) c.unitOf.delete(code);
    else (c.unitOf.set(code, unit), c.byUnit.set(unit, (c.byUnit.get(unit) ?? 0) + 1));
  }
}

/** The criteria an active flag was last raised for (its newest evidence). */
function criteriaOf(a: Alert): Criterion[] {
  const last = a.evidence.at(-1) as { findings?: { criterion: Criterion }[] } | undefined;
  return (last?.findings ?? []).map((x) => x.criterion);
}
