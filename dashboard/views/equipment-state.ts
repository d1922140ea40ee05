// The one thing nobody kept is the latest status of each elevator and the
// latest reading of each gas detector: `EquipmentState` keeps a reference to
// the newest accepted record of each (no copy), warmed up from InfluxDB at start.
import type { Logger } from 'pino';
import { Listeners } from '../../domain/listeners.js';
import type { Reading, Status } from '../../domain/messages.js';
import type { Ingest, IngestedItem } from '../../ingest/pipeline.js';
import type { InfluxStore } from '../../storage/influx.js';
import { readingFromRow, rowOf, statusFromRow, type EquipmentKind } from './common.js';

export interface EquipmentChange {
  kind: EquipmentKind;
  code: string;
}

/** The newest accepted status per elevator and reading per gas detector (references to the records, no copies). */
export class EquipmentState {
  readonly status = new Map<string, Status>();
  /** site → detector → reading */
  readonly readings = new Map<string, Map<string, Reading>>();
  private readonly listeners: Listeners<[EquipmentChange]>;
  private off: () => void;

  constructor(private ingest: Ingest, private store: InfluxStore, private log: Logger) {
    this.listeners = new Listeners('dashboard equipment change', log);
    this.off = ingest.onAccepted((items) => this.accept(items));
  }

  /** Hears elevators whose service mode changed (or whose first status is not normal service) and gas sites heard from for the first time. */
  onChange(fn: (c: EquipmentChange) => void): () => void {
    return this.listeners.on(fn);
  }

  private emit(c: EquipmentChange): void {
    this.listeners.emit(c); // a listener's failure is logged and never disturbs ingest
  }

  /**
   * A change another cluster node accepted (its partitions' equipment): the newest status of an elevator or a
   * reading of a gas site, applied as if accepted here; listeners hear it if it is news here.
   */
  applyRemote(c: EquipmentChange & { status?: Status | undefined; reading?: Reading | undefined }): void {
    if (c.kind === 'elevator' && c.status) this.takeStatus(c.code, c.status);
    else if (c.kind === 'gas_site' && c.reading) this.takeReading(c.code, c.reading);
  }

  private accept(items: IngestedItem[]): void {
    for (const it of items) {
      if (it.channel === 'status') this.takeStatus(it.code!, it.record);
      else if (it.channel === 'reading') this.takeReading(it.code!, it.record);
    }
  }

  private takeStatus(code: string, s: Status): void {
    const prev = this.status.get(code);
    if (prev && prev.ts > s.ts) return;
    this.status.set(code, s);
    // A first status (start-up, before the warm-up) is news only out of normal service: a whole city's
    // first statuses would otherwise be one huge frame to every screen.
    if (prev ? prev.serviceMode !== s.serviceMode : s.serviceMode !== 'normal') this.emit({ kind: 'elevator', code });
  }

  private takeReading(code: string, r: Reading): void {
    let site = this.readings.get(code);
    if (!site) {
      site = new Map();
      this.readings.set(code, site);
      this.emit({ kind: 'gas_site', code });
    }
    const prev = site.get(r.detector);
    if (!prev || prev.ts <= r.ts) site.set(r.detector, r);
  }

  /** Fills in what was known before a restart from InfluxDB (the last hour), without overriding anything newer. */
  async warmUp(): Promise<void> {
    try {
      const st = await this.store.query(`SELECT * FROM "elevator_status" WHERE time > now() - 1h GROUP BY "elevator" ORDER BY time DESC LIMIT 1`);
      for (const s of st) {
        const code = s.tags?.elevator;
        const row = s.values[0];
        if (!code || !row) continue;
        const r = rowOf(s, row);
        const prev = this.status.get(code);
        if (prev && prev.ts >= Number(r.time)) continue;
        this.status.set(code, statusFromRow(r));
      }
      const rd = await this.store.query(`SELECT * FROM "gas_reading" WHERE time > now() - 1h GROUP BY "site", "detector" ORDER BY time DESC LIMIT 1`);
      for (const s of rd) {
        const site = s.tags?.site;
        const detector = s.tags?.detector;
        const row = s.values[0];
        if (!site || !detector || !row) continue;
        const r = rowOf(s, row);
        let m = this.readings.get(site);
        if (!m) this.readings.set(site, (m = new Map()));
        const prev = m.get(detector);
        if (!prev || prev.ts < Number(r.time)) m.set(detector, readingFromRow(detector, r));
      }
    } catch (err) {
      this.log.debug({ err }, 'dashboard: could not warm up the latest equipment state from InfluxDB');
    }
  }

  close(): void {
    this.off();
    this.listeners.clear();
  }
}
