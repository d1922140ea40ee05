// Interview cases tell their listeners (the dashboard's live feed) about every
// case opened; one listener that throws is logged and does not stop the others.
import { sqliteDb } from '../../storage/db.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { AlertStore } from '../../alerts/store.js';
import { InterviewCases } from '../../supervision/cases.js';
import { DEFAULT_CRITERIA, type InterviewList, type ListedUnit } from '../../supervision/interview.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

it('a case listener that throws is logged; the others still hear every new case', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cases-'));
  dirs.push(dir);
  const db = sqliteDb(join(dir, 'state.db'));
  const logged: { obj: object; msg: string }[] = [];
  const cases = new InterviewCases(db, new AlertStore(db), { error: (obj, msg) => logged.push({ obj, msg }) });
  cases.onChange(() => {
    throw new Error('listener broke');
  });
  const heard: string[] = [];
  cases.onChange((c) => heard.push(c.unit));
  // Only the fields openFor reads; the scorecards and reasons do not matter here.
  const units = ['U1', 'U2'].map((unit, i) => ({ rank: i + 1, unit, name: null }) as unknown as ListedUnit);
  const list: InterviewList = { id: 1, periodFrom: '2025-01-01', periodTo: '2026-01-01', version: 1, generatedAt: 0, trigger: 'manual', criteria: DEFAULT_CRITERIA, units, considered: 2 };
  expect(cases.openFor(list, '张科长', 1000)).toHaveLength(2);
  expect(heard).toEqual(['U1', 'U2']);
  expect(logged.map((l) => [l.msg, (l.obj as { err: Error }).err.message])).toEqual([
    ['interview case change listener failed', 'listener broke'],
    ['interview case change listener failed', 'listener broke'],
  ]);
});
