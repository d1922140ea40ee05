// The alert lifecycle on its own (SQLite): one active alert per subject and
// type, repeats update it, transitions are checked and kept, and everything
// survives reopening the database.
import { sqliteDb } from '../../storage/db.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_ESCALATION, escalationStep } from '../../alerts/rules/escalation.js';
import { AlertError, AlertStore, type AlertSort, type RaiseInput } from '../../alerts/store.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function open(dir = mkdtempSync(join(tmpdir(), 'alerts-'))) {
  dirs.push(dir);
  const db = sqliteDb(join(dir, 'state.db'));
  return { db, store: new AlertStore(db), dir };
}
const entrapment = (at: number, evidence?: unknown): RaiseInput => ({ type: 'entrapment', severity: 'critical', subjectKind: 'elevator', subject: 'E1', district: '大祥区', unit: 'MU1', at, evidence });

describe('alert store', () => {
  it('keeps one active alert per subject and type; a repeat updates it', () => {
    const { store } = open();
    const first = store.raise(entrapment(1000, { id: 'ev-1' }));
    expect(first.transition).toBe('raised');
    const again = store.raise(entrapment(5000, { id: 'ev-2' }));
    expect(again.transition).toBe('repeated');
    expect(again.alert).toMatchObject({ id: first.alert.id, count: 2, firstAt: 1000, lastAt: 5000, evidence: [{ id: 'ev-1' }, { id: 'ev-2' }] });
    // a late occurrence moves first occurrence back, never last occurrence
    expect(store.raise(entrapment(500)).alert).toMatchObject({ firstAt: 500, lastAt: 5000, count: 3 });
    // another subject or type is another alert
    expect(store.raise({ ...entrapment(1000), subject: 'E2' }).transition).toBe('raised');
    expect(store.raise({ ...entrapment(1000), type: 'overspeed', severity: 'major' }).transition).toBe('raised');
    expect(store.list({ state: 'active' }).total).toBe(3);
  });

  it('a repeat at a higher severity is its own transition; a lower one is a plain repeat and never lowers it', () => {
    const { store } = open();
    const gas = (at: number, severity: 'major' | 'critical'): RaiseInput => ({ type: 'gas_leak', severity, subjectKind: 'gas_site', subject: 'G1:D1', district: '双清区', at });
    expect(store.raise(gas(1000, 'major')).transition).toBe('raised');
    expect(store.raise(gas(2000, 'major')).transition).toBe('repeated');
    const up = store.raise(gas(3000, 'critical'));
    expect(up).toMatchObject({ transition: 'severity_raised', at: 3000, alert: { severity: 'critical', count: 3 } });
    // paged as it rose: the unacknowledged-critical reminder counts from the rise, not from the opening
    expect(escalationStep({ ...up.alert, openedAt: Date.now() - 10 * 60_000 }, Date.now() + 1000, { ...DEFAULT_ESCALATION, escalateMs: 3_600_000 }).remind).toBe(false);
    expect(store.raise(gas(4000, 'major'))).toMatchObject({ transition: 'repeated', alert: { severity: 'critical', count: 4 } });
    expect(store.eventsSince(0).map((e) => [e.transition, e.alert.severity])).toEqual([['raised', 'major'], ['repeated', 'major'], ['severity_raised', 'critical'], ['repeated', 'critical']]);
  });

  it('sorts the list by a named key, ties by id; -severity puts critical first', () => {
    const { store } = open();
    store.raise({ ...entrapment(3000), subject: 'E1' });
    store.raise({ ...entrapment(1000), subject: 'E2', type: 'door_open_fault', severity: 'minor' });
    store.raise({ ...entrapment(2000), subject: 'E3', type: 'overspeed', severity: 'major' });
    store.raise({ ...entrapment(4000), subject: 'E4', type: 'offline', severity: 'warning' });
    const subjects = (sort?: AlertSort) => store.list({ sort }).items.map((a) => a.subject);
    expect(subjects()).toEqual(['E4', 'E3', 'E2', 'E1']); // newest first by default
    expect(subjects('-severity')).toEqual(['E1', 'E3', 'E2', 'E4']);
    expect(subjects('severity')).toEqual(['E4', 'E2', 'E3', 'E1']);
    expect(subjects('firstAt')).toEqual(['E2', 'E3', 'E1', 'E4']);
  });

  it('goes open → acknowledged → resolved with who and when, and opens a new alert only after resolution', () => {
    const { store } = open();
    const { alert } = store.raise(entrapment(1000));
    expect(store.acknowledge(alert.id, 'inspector-wang', 2000).alert).toMatchObject({ state: 'acknowledged', ackBy: 'inspector-wang', ackAt: 2000 });
    expect(() => store.acknowledge(alert.id, 'x')).toThrow(AlertError);
    expect(store.raise(entrapment(2500)).alert.id).toBe(alert.id); // still active while acknowledged
    expect(store.note(alert.id, 'inspector-wang', '已联系维保单位', 2600).alert.notes).toEqual([{ at: 2600, by: 'inspector-wang', text: '已联系维保单位' }]);
    expect(store.escalate(alert.id, 2700).alert.escalation).toBe(1);
    expect(store.resolve(alert.id, 'system', 'released', 3000).alert).toMatchObject({ state: 'resolved', resolvedBy: 'system', resolution: 'released' });
    expect(() => store.resolve(alert.id, 'x', 'again')).toThrow(/already resolved/);
    const next = store.raise(entrapment(4000));
    expect(next.transition).toBe('raised');
    expect(next.alert.id).not.toBe(alert.id);
  });

  it('tells listeners every transition and keeps them for resuming a feed', () => {
    const { store } = open();
    const heard: string[] = [];
    store.onTransition((r) => heard.push(`${r.alert.id}:${r.transition}`));
    const { alert } = store.raise(entrapment(1));
    store.raise(entrapment(2));
    store.acknowledge(alert.id, 'a', 3);
    store.resolve(alert.id, 'a', 'done', 4);
    expect(heard).toEqual([`${alert.id}:raised`, `${alert.id}:repeated`, `${alert.id}:acknowledged`, `${alert.id}:resolved`]);
    const events = store.eventsSince(0);
    expect(events.map((e) => e.transition)).toEqual(['raised', 'repeated', 'acknowledged', 'resolved']);
    expect(store.eventsSince(events[1]!.seq).map((e) => e.transition)).toEqual(['acknowledged', 'resolved']);
    expect(events[2]!.alert.state).toBe('acknowledged');
  });

  it('survives reopening the database', () => {
    const a = open();
    const { alert } = a.store.raise(entrapment(1000));
    a.store.acknowledge(alert.id, 'w', 1500);
    a.db.close();
    const b = open(a.dir);
    expect(b.store.active('entrapment', 'elevator', 'E1')).toMatchObject({ id: alert.id, state: 'acknowledged', ackBy: 'w' });
    expect(b.store.raise(entrapment(2000)).transition).toBe('repeated');
    b.db.close();
  });

  it('a transition listener that throws is logged; the other listeners still hear it and the transition stands', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
    dirs.push(dir);
    const logged: { obj: object; msg: string }[] = [];
    const store = new AlertStore(sqliteDb(join(dir, 'state.db')), { error: (obj, msg) => logged.push({ obj, msg }) });
    store.onTransition(() => {
      throw new Error('listener broke');
    });
    const heard: string[] = [];
    store.onTransition((r) => heard.push(r.transition));
    const raised = store.raise(entrapment(1000));
    expect(heard).toEqual(['raised']);
    expect(store.get(raised.alert.id)?.state).toBe('open');
    expect(logged.map((l) => [l.msg, (l.obj as { err: Error }).err.message])).toEqual([['alert transition listener failed', 'listener broke']]);
  });
});
