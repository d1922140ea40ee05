// The bulk-import command loads history through the running service: every
// good row lands in InfluxDB at its event time, bad rows are reported by row
// number, and a second run changes nothing.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, registerSmallCity, startTestService, type TestService } from '../helpers.js';

let s: TestService;
beforeAll(async () => {
  s = await startTestService();
  await registerSmallCity(s);
});
afterAll(async () => s?.cleanup());

function runImport(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) =>
    execFile(process.execPath, ['scripts/run-built.mjs', 'ingest/import-cli.ts', '--url', s.httpUrl, '--token', 'test-admin-token', ...args], { timeout: 60_000 }, (err, stdout, stderr) =>
      res({ code: (err as { code?: number } | null)?.code ?? 0, stdout, stderr }),
    ),
  );
}

describe('bulk import of records', () => {
  it('imports a year of NDJSON history with a per-row error report, idempotently', async () => {
    const start = Date.UTC(2025, 0, 1);
    const lines: string[] = [];
    for (let d = 0; d < 365; d++) {
      lines.push(JSON.stringify({ topic: 'se/v1/records/maintenance', id: `bm-${d}`, ts: start + d * 86_400_000, elevator: d % 2 ? 'E1' : 'E3', unit: d % 2 ? 'MU1' : 'MU2', kind: 'half_monthly' }));
    }
    lines.splice(10, 0, '{not json');
    lines.splice(20, 0, JSON.stringify({ topic: 'se/v1/records/maintenance', id: 'bad-kind', ts: start, elevator: 'E1', unit: 'MU1', kind: 'weekly' }));
    lines.push(JSON.stringify({ topic: 'se/v1/records/complaint', id: 'bc-1', ts: start, source: '12345', category: '噪音', elevator: 'E2' }));
    const file = join(s.dataDir, 'history.ndjson');
    writeFileSync(file, lines.join('\n') + '\n');

    const r = await runImport([file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/done: 368 rows, 366 accepted, 2 rejected/);
    const report = readFileSync(`${file}.errors.csv`, 'utf8').trim().split('\n');
    expect(report.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['11,malformed_json', '21,invalid_object']);
    await s.ingest.drained();
    expect(await count(s, 'maintenance')).toBe(365);
    expect(await count(s, 'complaint')).toBe(1);
    expect(await count(s, 'maintenance', `WHERE time >= '2025-12-31T00:00:00Z' AND time < '2026-01-01T00:00:00Z'`)).toBe(1);

    const again = await runImport([file]);
    expect(again.code).toBe(0);
    await s.ingest.drained();
    expect(await count(s, 'maintenance')).toBe(365);
  });

  it('imports hazards from CSV (v1.1), evidence as a list in one cell', async () => {
    const t = Date.UTC(2025, 5, 1);
    const file = join(s.dataDir, 'hazards.csv');
    writeFileSync(file, [
      'id,ts,elevator,level,category,description,source,state,hazardId,evidence',
      `bh-1,${t},E1,major,制动器,制动器闸瓦磨损,inspection,found,,`,
      `bh-1r,${t + 86_400_000},E1,major,制动器,更换闸瓦,inspection,rectified,bh-1,https://img.example.org/a.jpg;https://img.example.org/b.jpg`,
      `bh-2,${t},E3,severe,门锁,,inspection,found,,`,
    ].join('\n'));
    const r = await runImport(['--topic', 'se/v1/records/hazard', file]);
    expect(r.stdout).toMatch(/done: 3 rows, 2 accepted, 1 rejected/);
    expect(readFileSync(`${file}.errors.csv`, 'utf8')).toMatch(/^4,invalid_object,.*level/m);
    await s.ingest.drained();
    expect(s.hazards.get('bh-1')).toMatchObject({ state: 'rectified', rectifyId: 'bh-1r', evidence: ['https://img.example.org/a.jpg', 'https://img.example.org/b.jpg'] });
  });

  it('imports registry entities from CSV in chunks', async () => {
    const rows = ['code,address,district,userUnit,maintenanceUnit'];
    for (let i = 0; i < 1200; i++) rows.push(`IMP${i},路${i}号,北塔区,物业,${i === 700 ? 'MU404' : 'MU1'}`);
    const file = join(s.dataDir, 'elevators.csv');
    writeFileSync(file, rows.join('\n'));
    const r = await runImport(['--registry', 'elevators', file]);
    expect(r.stdout).toMatch(/done: 1200 rows, 1199 accepted, 1 rejected/);
    expect(readFileSync(`${file}.errors.csv`, 'utf8')).toMatch(/^702,invalid,.*MU404/m);
    expect(s.registry.elevators.get('IMP1199')).toBeDefined();
  });
});
