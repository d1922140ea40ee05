// Elevator risk levels: a small city with a known answer (levels and the
// points of every factor), on both state backends, with the figures read
// from their real owners (registry, record ledger, alert store); the scoring
// validated; and the time to score the demo city printed.
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS, openTestDb } from '../db.js';
import { Registry } from '../../registry/registry.js';
import { RecordLedger, type LedgerItem } from '../../storage/ledger.js';
import { AlertStore } from '../../alerts/store.js';
import { DEFAULT_RISK, parseRiskConfig, RiskLevels, scoreElevator } from '../../supervision/risk.js';
import { cstMidnight } from '../../domain/time.js';
import { generateCity, registerCity } from '../../simulators/city.js';

const NOW = cstMidnight('2026-06-01');
const at = (daysAgo: number) => NOW - daysAgo * 86_400_000;
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const event = (code: string, id: string, type: string, ts: number): LedgerItem =>
  ({ channel: 'event', code, ctx: { unit: 'U1' }, record: { id, ts, type, state: 'raised' } }) as unknown as LedgerItem;
const inspection = (code: string, id: string, result: 'pass' | 'fail', ts: number): LedgerItem =>
  ({ channel: 'inspection', code: null, ctx: { unit: 'U1' }, record: { id, ts, elevator: code, institution: '特检院', kind: 'periodic', attempt: 1, result } }) as unknown as LedgerItem;
const complaint = (code: string, id: string, ts: number): LedgerItem =>
  ({ channel: 'complaint', code: null, ctx: { unit: 'U1' }, record: { id, ts, elevator: code, source: '96333', category: '困人' } }) as unknown as LedgerItem;

describe.each(BACKENDS)('risk levels on %s', (backend) => {
  it('match the known answer, with the points of every factor', async () => {
    const db = await openTestDb(backend, cleanups);
    const registry = new Registry(db);
    const ledger = new RecordLedger(db);
    const alerts = new AlertStore(db);
    registry.units.put({ id: 'U1', name: '维保一' });
    const put = (code: string, district: string, installedOn?: string) =>
      registry.elevators.put({ code, address: `${code} 路`, district, userUnit: '物业', maintenanceUnit: 'U1', ...(installedOn ? { installedOn } : {}) });
    // HIGH: 2 entrapments (6) + 1 failed inspection (5) + inspection overdue (6) + 2 open hazards (8) = 25 ≥ 20
    put('HIGH', '北塔区', '2020-01-01');
    // ELEV: 22 years old: 12 years beyond 10 → capped at 10; + 1 complaint (2) = 12 ≥ 12
    put('ELEV', '北塔区', '2004-03-01');
    // GEN: 3 faults (3) + maintenance overdue (4) = 7 ≥ 5; an old fault (400 days ago) is outside the period
    put('GEN', '大祥区', '2019-05-31');
    // LOW: no figures, age unknown; a passed inspection takes nothing
    put('LOW', '大祥区');
    ledger.add([
      event('HIGH', 'e1', 'entrapment', at(10)), event('HIGH', 'e2', 'entrapment', at(100)),
      inspection('HIGH', 'i1', 'fail', at(50)), inspection('LOW', 'i2', 'pass', at(50)),
      complaint('ELEV', 'c1', at(20)),
      event('GEN', 'e3', 'door_open_fault', at(1)), event('GEN', 'e4', 'safety_circuit_open', at(2)), event('GEN', 'e5', 'door_close_fault', at(3)),
      event('GEN', 'e6', 'door_close_fault', at(400)),
    ]);
    alerts.raise({ type: 'inspection_overdue', severity: 'minor', subjectKind: 'elevator', subject: 'HIGH', at: at(5) });
    alerts.raise({ type: 'maintenance_overdue', severity: 'minor', subjectKind: 'elevator', subject: 'GEN', at: at(5) });
    const hazards = { openByElevator: (code: string) => (code === 'HIGH' ? 2 : 0) };
    const risk = new RiskLevels({ registry, ledger, alerts, hazards, clock: () => NOW });

    // The ledger's counts a page at a time, in code order (LOW's passed inspection counts for nothing).
    const page1 = ledger.riskCountsByElevator(at(365), NOW, null, 2);
    expect(page1.map((r) => r.elevator)).toEqual(['ELEV', 'GEN']);
    expect(ledger.riskCountsByElevator(at(365), NOW, 'GEN', 2)).toEqual([
      { elevator: 'HIGH', faults: 0, entrapments: 2, failedInspections: 1, complaints: 0 }, { elevator: 'LOW', faults: 0, entrapments: 0, failedInspections: 0, complaints: 0 },
    ]);

    const s = await risk.compute();
    const summary = Object.fromEntries(s.items.map((i) => [i.code, { level: i.level, score: i.score, factors: Object.fromEntries(i.factors.map((f) => [f.factor, [f.value, f.points]])) }]));
    expect(summary).toEqual({
      HIGH: { level: 'high', score: 25, factors: { entrapments: [2, 6], failedInspections: [1, 5], inspectionOverdue: [1, 6], openHazards: [2, 8] } },
      ELEV: { level: 'elevated', score: 12, factors: { age: [22, 10], complaints: [1, 2] } },
      GEN: { level: 'general', score: 7, factors: { faults: [3, 3], maintenanceOverdue: [1, 4] } },
      LOW: { level: 'low', score: 0, factors: {} },
    });
    expect(s.items.map((i) => i.code)).toEqual(['HIGH', 'ELEV', 'GEN', 'LOW']); // highest score first
    expect((await risk.of('GEN')).inputs.ageYears).toBe(7); // 2019-05-31 → 2026-06-01: seven full years

    const north = await risk.list({ district: '北塔区' });
    expect(north.counts).toEqual({ high: 1, elevated: 1, general: 0, low: 0 });
    expect((await risk.list({ level: 'general' })).items.map((i) => i.code)).toEqual(['GEN']);
    expect(await risk.byDistrict()).toEqual({ 北塔区: { high: 1, elevated: 1, general: 0, low: 0 }, 大祥区: { high: 0, elevated: 0, general: 1, low: 1 } });
    await expect(risk.of('NOPE')).rejects.toThrow(/elevator NOPE is not registered/);
  });
});

describe('risk scoring', () => {
  it('takes configured weights and thresholds, and refuses a bad scoring with the field named', () => {
    const x = { ageYears: null, faults: 0, entrapments: 1, failedInspections: 0, maintenanceOverdue: false, inspectionOverdue: false, openHazards: 0, complaints: 0 };
    expect(scoreElevator(x).level).toBe('low'); // 3 points
    const c = parseRiskConfig('{"weights":{"entrapments":5},"thresholds":{"general":5}}');
    expect(c.weights.faults).toBe(DEFAULT_RISK.weights.faults);
    expect(scoreElevator(x, c)).toEqual({ level: 'general', score: 5, factors: [{ factor: 'entrapments', value: 1, points: 5 }] });
    expect(() => parseRiskConfig('{"thresholds":{"high":1}}')).toThrow(/thresholds: thresholds must descend/);
    expect(() => parseRiskConfig('{"weights":{"faults":-1}}')).toThrow(/RISK_SCORING: weights.faults/);
    expect(() => parseRiskConfig('not json')).toThrow(/must be JSON/);
  });

  it('scores the demo city in slices that yield to the event loop (time printed)', async () => {
    const db = await openTestDb('sqlite', cleanups);
    const registry = new Registry(db);
    const city = generateCity({ seed: 1, elevators: 2000, units: 40, gasSites: 0, today: '2026-06-01' });
    registerCity(registry, city);
    const ledger = new RecordLedger(db);
    const items: LedgerItem[] = city.elevators.flatMap((e, i) => (i % 3 ? [] : [event(e.code, `f${i}`, i % 2 ? 'entrapment' : 'door_open_fault', at(i % 300))]));
    ledger.add(items);
    const risk = new RiskLevels({ registry, ledger, alerts: new AlertStore(db), clock: () => NOW, sliceSize: 500 });
    // A timer due at once must run between slices: the computation never holds the loop for the whole city.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const s = await risk.compute();
    clearInterval(timer);
    console.log(`risk levels of the demo city: ${s.items.length} elevators in ${s.tookMs} ms; timer ticks during it: ${ticks}`);
    expect(s.items).toHaveLength(2000);
    expect(ticks).toBeGreaterThanOrEqual(2);
  });
});
