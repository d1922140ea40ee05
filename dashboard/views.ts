// Read models for the dashboard (issue 5): overview numbers, equipment lists
// and pages, time series, ingest health, each in dashboard/views/. They read
// what already lives elsewhere — the registry (memory), the alert engine's
// liveness (last seen, offline), InfluxDB — and ask each table's owner for
// the rest through its methods (alerts: AlertStore; rescue timings:
// RescueTimings; elevator facts: the Scheduler; records: RecordLedger; dead
// letters: DeadLetters): no SQL here (test/service/table-owners.test.ts).
// Everything is filtered by the caller's districts (`Scope`). `Views` is the
// one object the routes and live feeds use.
import { EquipmentState } from './views/equipment-state.js';
import { ElevatorViews, type EquipmentFrameItem } from './views/equipment.js';
import { GasViews } from './views/gas.js';
import { IngestHealthView } from './views/ingest-health.js';
import { OverviewView } from './views/overview.js';
import type { EquipmentKind, ViewsDeps } from './views/common.js';

export { ViewError, parseRange, type EquipmentKind, type Scope, type ViewsDeps, type ViewsOptions } from './views/common.js';
export { EquipmentState, type EquipmentChange } from './views/equipment-state.js';
export { ELEVATOR_SORTS, type ElevatorItem, type ElevatorQuery, type EquipmentFrameItem } from './views/equipment.js';
export { GAS_SITE_SORTS, type GasSiteItem, type GasSiteQuery } from './views/gas.js';
export { RATE_HISTORY_MS, RATE_SAMPLE_MS } from './views/ingest-health.js';
export type { KpiNumbers } from './views/overview.js';

export class Views {
  readonly state: EquipmentState;
  private readonly health: IngestHealthView;
  private readonly overviewView: OverviewView;
  private readonly elevatorViews: ElevatorViews;
  private readonly gasViews: GasViews;

  constructor(readonly deps: ViewsDeps) {
    this.state = new EquipmentState(deps.ingest, deps.store, deps.log);
    this.health = new IngestHealthView(deps);
    this.overviewView = new OverviewView(deps, this.state, this.health);
    this.elevatorViews = new ElevatorViews(deps, this.state);
    this.gasViews = new GasViews(deps, this.state);
    void this.state.warmUp();
  }

  close(): void {
    this.health.close();
    this.state.close();
  }

  get rateHistory() {
    return this.health.rateHistory;
  }

  readonly overview: OverviewView['overview'] = (...a) => this.overviewView.overview(...a);
  readonly kpiByDistrict: OverviewView['kpiByDistrict'] = (...a) => this.overviewView.kpiByDistrict(...a);
  readonly elevators: ElevatorViews['elevators'] = (...a) => this.elevatorViews.elevators(...a);
  readonly elevator: ElevatorViews['elevator'] = (...a) => this.elevatorViews.elevator(...a);
  readonly elevatorSeries: ElevatorViews['elevatorSeries'] = (...a) => this.elevatorViews.elevatorSeries(...a);
  readonly gasSites: GasViews['gasSites'] = (...a) => this.gasViews.gasSites(...a);
  readonly gasSite: GasViews['gasSite'] = (...a) => this.gasViews.gasSite(...a);
  readonly gasSeries: GasViews['gasSeries'] = (...a) => this.gasViews.gasSeries(...a);
  readonly fillings: GasViews['fillings'] = (...a) => this.gasViews.fillings(...a);
  readonly ingestHealth: IngestHealthView['ingestHealth'] = (...a) => this.health.ingestHealth(...a);
  readonly rates: IngestHealthView['rates'] = () => this.health.rates();

  /** A live `equipment` frame item (dashboard/live-feeds.ts). */
  equipmentFrameItem(kind: EquipmentKind, code: string): EquipmentFrameItem | null {
    return this.elevatorViews.equipmentFrameItem(kind, code);
  }
}
