// Recent telemetry of a city — elevator status and gas readings over the last
// hours, sampled more sparsely than live — so the charts have history on the
// first visit. The equipment states carry on into the live gateways
// (runGateways' `states`), so run counters and door cycles continue where the
// history ends. Faults and entrapments are the year's backfill (backfill.ts),
// not repeated here; gas leaks happen at their usual rate.
import { topics } from '../domain/channels.js';
import { DEFAULT_RATES, gasReadings, initElevator, initGasSite, sampleElevator, type ElevatorState, type GasSiteState, type Rates } from './behaviour.js';
import type { BackfillRecord } from './backfill.js';
import type { City } from './city.js';
import { Rng } from './random.js';
import { MINUTE_MS } from '../domain/time.js';

/** Equipment states at the end of the history, for the live gateways. */
export interface EquipmentStates {
  elevators: Map<string, ElevatorState>;
  gasSites: Map<string, GasSiteState>;
}

export interface HistoryOptions {
  seed: number;
  /** epoch ms: the first sample */
  from: number;
  /** about this many status messages over the whole history, to keep the demo's start quick (default 60,000) */
  statusBudget?: number;
  /** gas readings every this often (default 15 min) */
  gasStepMs?: number;
}

const NO_FAULTS: Rates = { ...DEFAULT_RATES, faultsPerDay: 0, entrapmentsPerDay: 0 };

export class TelemetryHistory {
  readonly states: EquipmentStates = { elevators: new Map(), gasSites: new Map() };
  private readonly rngs = new Map<string, Rng>();
  readonly from: number;
  private readonly budget: number;
  private readonly gasStepMs: number;
  private last: number;

  constructor(private readonly city: City, opts: HistoryOptions) {
    const root = new Rng(opts.seed).fork('history');
    this.from = this.last = opts.from;
    this.budget = opts.statusBudget ?? 60_000;
    this.gasStepMs = opts.gasStepMs ?? 15 * MINUTE_MS;
    for (const e of city.elevators) {
      const rng = root.fork(e.code);
      this.rngs.set(e.code, rng);
      this.states.elevators.set(e.code, initElevator(e, rng, opts.from));
    }
    for (const g of city.gasSites) {
      const rng = root.fork(g.code);
      this.rngs.set(g.code, rng);
      this.states.gasSites.set(g.code, initGasSite(g, rng, opts.from));
    }
  }

  /** The status sampling step for a history up to `to`: the budget spread over the city, whole minutes, at least one. */
  statusStepMs(to: number): number {
    const perElevator = Math.max(1, this.budget / Math.max(1, this.city.elevators.length));
    return Math.max(MINUTE_MS, Math.round((to - this.from) / perElevator / MINUTE_MS) * MINUTE_MS);
  }

  /**
   * Samples from where the history stands up to `to` (the last sample at `to`
   * itself, so the equipment was last heard from then), equipment by
   * equipment; each one's last message is marked to be posted at once.
   */
  *until(to: number): Generator<BackfillRecord> {
    const from = this.last;
    if (to <= from) return;
    this.last = to;
    const times = (step: number) => {
      const out: number[] = [];
      for (let t = from + step; t < to; t += step) out.push(Math.round(t));
      out.push(to);
      return out;
    };
    const statusAt = times(this.statusStepMs(to));
    for (const e of this.city.elevators) {
      const s = this.states.elevators.get(e.code)!;
      const rng = this.rngs.get(e.code)!;
      const topic = topics.status(e.code);
      for (const [i, t] of statusAt.entries()) {
        yield { topic, payload: sampleElevator(s, rng, t, NO_FAULTS).status, sendNow: i === statusAt.length - 1 };
      }
    }
    const gasAt = times(this.gasStepMs);
    for (const g of this.city.gasSites) {
      const s = this.states.gasSites.get(g.code)!;
      const rng = this.rngs.get(g.code)!;
      const topic = topics.reading(g.code);
      for (const [i, t] of gasAt.entries()) {
        const readings = gasReadings(s, rng, t);
        for (const [j, payload] of readings.entries()) yield { topic, payload, sendNow: i === gasAt.length - 1 && j === readings.length - 1 };
      }
    }
  }
}
