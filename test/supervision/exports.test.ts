// Exports through the real service: the scorecards and the interview list as
// CSV and XLSX read back as Excel would, the printable interview notice with
// its evidence, file names in Chinese, and refusals.
import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { previousYear } from '../../supervision/interview.js';
import type { Scorecard } from '../../supervision/scorecard.js';
import { admin, api, startTestService, type TestService } from '../helpers.js';
import { seedInterviewCity } from './city.js';

let s: TestService;
let listId: number;
const XSS = '<script>alert("x")</script>, 维保 & Co';
const PERIOD = 'from=2025-01-01&to=2026-01-01';

beforeAll(async () => {
  s = await startTestService();
  await seedInterviewCity(s, {
    U_XSS: { elevators: 10, pass: 0, fail: 5, complaints: 1, expect: ['pass_rate', 'complaint_rate'], name: XSS },
    U_FORMULA: { elevators: 1, pass: 0, fail: 0, expect: [], name: '=1+1 维保' },
  });
  listId = (await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' })).body.id;
});
afterAll(async () => {
  await s?.cleanup();
});

const get = (path: string, headers: Record<string, string> = { authorization: admin.authorization }) => fetch(`${s.httpUrl}${path}`, { headers });

/** The CSV as Excel reads it: BOM, CRLF lines, quoted fields; rows as header → value. */
async function readCsv(r: Response) {
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/csv; charset=utf-8');
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await r.arrayBuffer());
  expect(text.startsWith('\uFEFF')).toBe(true);
  expect(text.endsWith('\r\n')).toBe(true);
  expect(/(?<!\r)\n/.test(text)).toBe(false); // every line ends in CRLF
  const table = parse(text, { bom: true }) as string[][];
  expect(table.length).toBe(text.split('\r\n').length - 1); // no field spans lines
  const [header, ...rows] = table;
  return { header: header!, rows: rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!]))) };
}

/** The first sheet as its cells: title, header, data rows, with the cells themselves for formats. */
async function readXlsx(r: Response) {
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(await r.arrayBuffer());
  const ws = wb.worksheets[0]!;
  const header = (ws.getRow(2).values as unknown[]).slice(1) as string[];
  const rows: Record<string, ExcelJS.Cell>[] = [];
  for (let n = 3; n <= ws.rowCount; n++) rows.push(Object.fromEntries(header.map((h, i) => [h, ws.getRow(n).getCell(i + 1)])));
  return { wb, ws, header, rows };
}

/** A cell as the CSV writes it: percent-formatted numbers as 60.0 %, blanks as empty. */
const asCsv = (c: ExcelJS.Cell) => (c.value === null || c.value === undefined ? '' : typeof c.value === 'number' && c.numFmt === '0.0%' ? `${(c.value * 100).toFixed(1)}%` : String(c.value));

const encoded = (name: string) => `filename*=UTF-8''${encodeURIComponent(name)}`;

describe('scorecard exports', () => {
  it('CSV: BOM, CRLF, Chinese headers, one row per unit, 样本不足 where the sample is too small', async () => {
    const r = await get(`/api/v1/scorecards/export?${PERIOD}&format=csv`);
    expect(r.headers.get('content-disposition')).toBe(`attachment; filename="scorecards_2025-01-01_2025-12-31.csv"; ${encoded('维保单位评分卡_2025-01-01至2025-12-31.csv')}`);
    const { header, rows } = await readCsv(r);
    expect(header).toEqual(expect.arrayContaining(['单位编号', '单位名称', '电梯台数', '首检数', '首检合格数', '一次合格率', '投诉数', '投诉率(起/百台)', '维保超期次数', '超期电梯·天', '困人次数', '平均到达(分钟)', '超30分钟到达', '危险故障', '未整改隐患', '逾期隐患']));
    expect(header.slice(0, 2)).toEqual(['单位编号', '单位名称']);

    const cards = (await api(s, 'GET', `/api/v1/scorecards?${PERIOD}`)).body.items as Scorecard[];
    expect(rows.map((x) => x['单位编号'])).toEqual(cards.map((c) => c.unit));
    for (const c of cards) {
      const row = rows.find((x) => x['单位编号'] === c.unit)!;
      expect(row).toMatchObject({ 电梯台数: String(c.elevators), 首检数: String(c.inspections.first), 首检合格数: String(c.inspections.passed), 投诉数: String(c.complaints.count), 统计期间: '2025-01-01至2025-12-31' });
      expect([row['未整改隐患'], row['逾期隐患']]).toEqual([String(c.hazards.open), String(c.hazards.overdue)]);
    }
    const by = (u: string) => rows.find((x) => x['单位编号'] === u)!;
    expect(by('U_LOW')).toMatchObject({ 单位名称: 'U_LOW 电梯维保有限公司', 一次合格率: '60.0%', '投诉率(起/百台)': '0', '平均到达(分钟)': '', 困人次数: '0' });
    expect(by('U_EXACT')['一次合格率']).toBe('70.0%');
    expect(by('U_FEW')).toMatchObject({ 首检数: '4', 一次合格率: '样本不足' });
    expect(by('U_NONE')['一次合格率']).toBe('样本不足');
    expect(by('U_COMPL')['投诉率(起/百台)']).toBe('10');
    expect(by('U_MAINT')).toMatchObject({ 维保超期次数: '2', '超期电梯·天': '315' });
    expect(by('U_XSS')['单位名称']).toBe(XSS); // quotes and comma survive quoting
    expect(by('U_FORMULA')['单位名称']).toBe("'=1+1 维保"); // never run as a formula
  });

  it('XLSX: the same rows, typed; rates are numbers formatted as percent; bold frozen header and the period', async () => {
    const csv = await readCsv(await get(`/api/v1/scorecards/export?${PERIOD}&format=csv`));
    const r = await get(`/api/v1/scorecards/export?${PERIOD}&format=xlsx`);
    expect(r.headers.get('content-disposition')).toContain(encoded('维保单位评分卡_2025-01-01至2025-12-31.xlsx'));
    const { ws, header, rows } = await readXlsx(r);
    expect(ws.name).toBe('评分卡 2025-01-01至2025-12-31');
    expect(String(ws.getCell('A1').value)).toContain('2025-01-01 至 2025-12-31');
    expect(header).toEqual(csv.header);
    expect(ws.getCell(2, 1).font?.bold).toBe(true);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 2 });
    expect(ws.getColumn(2).width).toBeGreaterThan(20);
    expect(rows.map((row) => Object.fromEntries(header.map((h) => [h, asCsv(row[h]!)])))).toEqual(csv.rows.map((x) => ({ ...x, 单位名称: x['单位名称']!.replace(/^'=/, '=') })));

    const low = rows.find((x) => x['单位编号']!.value === 'U_LOW')!;
    expect(low['一次合格率']!.value).toBe(0.6);
    expect(low['一次合格率']!.numFmt).toBe('0.0%');
    expect(low['电梯台数']!.value).toBe(10);
    expect(rows.find((x) => x['单位编号']!.value === 'U_FEW')!['一次合格率']!.value).toBe('样本不足');
    expect(rows.find((x) => x['单位编号']!.value === 'U_COMPL')!['投诉率(起/百台)']!.value).toBe(10);
  });

  it('defaults to the previous calendar year and refuses a bad format or period', async () => {
    const d = previousYear();
    const r = await get('/api/v1/scorecards/export?format=csv');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toContain(`scorecards_${d.from}_`);
    expect((await get('/api/v1/scorecards/export')).headers.get('content-type')).toContain('spreadsheetml'); // xlsx by default
    const bad = await get(`/api/v1/scorecards/export?${PERIOD}&format=pdf`);
    expect(bad.status).toBe(400);
    expect((await get('/api/v1/scorecards/export?from=2026-01-01&to=2025-01-01')).status).toBe(400);
    expect((await get('/api/v1/scorecards/export', {})).status).toBe(401);
  });
});

describe('interview list exports', () => {
  it('CSV: rank, unit, reasons and figures in list order', async () => {
    const list = (await api(s, 'GET', `/api/v1/interview-lists/${listId}`)).body as { units: { unit: string; rank: number; reasons: { text: string }[] }[] };
    const r = await get(`/api/v1/interview-lists/${listId}/export?format=csv`);
    expect(r.headers.get('content-disposition')).toBe(
      `attachment; filename="interview-list-${listId}_2025-01-01_2025-12-31_v1.csv"; ${encoded('约谈名单_2025-01-01至2025-12-31_第1版.csv')}`,
    );
    const { header, rows } = await readCsv(r);
    expect(header.slice(0, 4)).toEqual(['排名', '单位编号', '单位名称', '约谈原因']);
    expect(rows.map((x) => [x['排名'], x['单位编号']])).toEqual(list.units.map((u) => [String(u.rank), u.unit]));
    expect(rows.map((x) => x['单位编号'])).toEqual(['U_XSS', 'U_BOTH', 'U_FALLBACK', 'U_LOW', 'U_REIN', 'U_CEXACT', 'U_COMPL']);
    const both = rows.find((x) => x['单位编号'] === 'U_BOTH')!;
    expect(both['约谈原因']).toBe(list.units.find((u) => u.unit === 'U_BOTH')!.reasons.map((x) => x.text).join('；'));
    expect(both).toMatchObject({ 一次合格率: '30.0%', 投诉数: '2', '投诉率(起/百台)': '20' });
    expect(rows.find((x) => x['单位编号'] === 'U_LOW')!['约谈原因']).toBe('定期检验一次合格率 60.0%（6/10）低于 70.0%');
  });

  it('XLSX: the list sheet and a sheet with the criteria, version and generation time', async () => {
    const csv = await readCsv(await get(`/api/v1/interview-lists/${listId}/export?format=csv`));
    const { wb, ws, header, rows } = await readXlsx(await get(`/api/v1/interview-lists/${listId}/export`));
    expect(ws.name).toBe('约谈名单 2025-01-01至2025-12-31');
    expect(String(ws.getCell('A1').value)).toContain('第 1 版');
    expect(header).toEqual(csv.header);
    expect(rows.map((row) => Object.fromEntries(header.map((h) => [h, asCsv(row[h]!)])))).toEqual(csv.rows);
    expect(rows[0]!['排名']!.value).toBe(1);
    expect([rows[0]!['一次合格率']!.value, rows[0]!['一次合格率']!.numFmt]).toEqual([0, '0.0%']);

    const criteria = wb.getWorksheet('约谈标准')!;
    const item = (label: string) => {
      let found: ExcelJS.Cell | undefined;
      criteria.eachRow((row) => { if (row.getCell(1).value === label) found = row.getCell(2); });
      return found!;
    };
    expect([item('一次合格率低于').value, item('一次合格率低于').numFmt]).toEqual([0.7, '0.0%']);
    expect(item('计算合格率的最少首检数').value).toBe(5);
    expect(item('投诉率不低于(起/百台)').value).toBe(5);
    expect(item('判定规则').value).toBe('任一标准不达标即列入');
    expect(item('版本').value).toBe(1);
    expect(item('列入约谈单位数').value).toBe(7);
    expect(String(item('生成时间（北京时间）').value)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  });

  it('refuses an unknown list or format', async () => {
    const r = await get('/api/v1/interview-lists/9999/export?format=csv');
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: 'interview list 9999 not found' });
    expect((await get(`/api/v1/interview-lists/${listId}/export?format=doc`)).status).toBe(400);
  });
});

describe('interview notice', () => {
  const notice = async (unit: string, query = '') => {
    const r = await get(`/api/v1/interview-lists/${listId}/units/${encodeURIComponent(unit)}/notice${query}`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    return { r, html: await r.text() };
  };

  it('names the unit, its reasons, figures and evidence, with a print stylesheet and blanks to fill in', async () => {
    const { r, html } = await notice('U_BOTH');
    expect(r.headers.get('content-disposition')).toBe(`inline; filename="notice_${listId}_U_BOTH.html"; ${encoded('约谈通知书_U_BOTH 电梯维保有限公司.html')}`);
    const list = (await api(s, 'GET', `/api/v1/interview-lists/${listId}`)).body as { units: { unit: string; reasons: { text: string }[] }[] };
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('<h1>约谈通知书</h1>');
    expect(html).toContain('U_BOTH 电梯维保有限公司（单位编号：U_BOTH）');
    for (const reason of list.units.find((u) => u.unit === 'U_BOTH')!.reasons) expect(html).toContain(`<li>${reason.text}</li>`);
    expect(html).toContain('2025年1月1日 至 2025年12月31日');
    expect(html).toContain('<th>一次合格率</th><td class="v">30.0%</td>');
    expect(html).toContain('一、定期检验首检不合格记录（7 条）');
    for (let i = 3; i < 10; i++) expect(html).toContain(`<td>U_BOTH-E${i}</td>`);
    expect(html).toContain('二、投诉记录（2 条）');
    expect(html.match(/<td class="nw">96333 热线<\/td><td>困人<\/td>/g)).toHaveLength(2);
    expect(html).toContain('<td class="nw">2025-03-04 10:00</td>'); // Beijing time: U_BOTH-i3
    expect(html).toContain('<div class="authority">邵阳市市场监督管理局</div>');
    expect(html).toContain('<span class="blank"></span> （年 月 日 时 分）'); // no case scheduled yet
    expect(html).toContain('@page { size: A4;');
    expect(html).toContain('@media print');
    expect(html).toContain('page-break-before: always');
    expect(html).not.toMatch(/<(script|link)\b|https?:\/\/|@import|url\(/); // nothing external, no scripts
  });

  it('escapes everything from the data', async () => {
    const { html } = await notice('U_XSS', `?authority=${encodeURIComponent('<b>某市</b>市场监督管理局')}`);
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;, 维保 &amp; Co（单位编号：U_XSS）');
    expect(html).toContain('<div class="authority">&lt;b&gt;某市&lt;/b&gt;市场监督管理局</div>');
    expect(html).toContain('<title>约谈通知书 — &lt;script&gt;');
  });

  it("carries the case's time, place and attendees once it is scheduled", async () => {
    const cases = (await api(s, 'POST', `/api/v1/interview-lists/${listId}/cases`, { by: '张科长' })).body.items as { id: number; unit: string }[];
    const c = cases.find((x) => x.unit === 'U_LOW')!;
    expect((await api(s, 'POST', `/api/v1/interview-cases/${c.id}/published`, { by: '张科长' })).status).toBe(200);
    const scheduled = await api(s, 'POST', `/api/v1/interview-cases/${c.id}/scheduled`, { by: '张科长', scheduledAt: '2026-01-20T01:30:00Z', place: '市局三楼<会议室>', attendees: ['总经理', '技术负责人'] });
    expect(scheduled.status).toBe(200);
    const { html } = await notice('U_LOW');
    expect(html).toContain('<tr><th>约谈时间</th><td>2026年1月20日 09:30</td></tr>');
    expect(html).toContain('<tr><th>约谈地点</th><td>市局三楼&lt;会议室&gt;</td></tr>');
    expect(html).toContain('<tr><th>参加人员</th><td>总经理、技术负责人</td></tr>');
    expect(html).toContain('一、定期检验首检不合格记录（4 条）');
    expect(html).toContain('二、投诉记录（0 条）');
  });

  it('is a readable 404 for an unknown list or a unit not on it', async () => {
    const none = await get('/api/v1/interview-lists/9999/units/U_LOW/notice');
    expect(none.status).toBe(404);
    expect(await none.json()).toEqual({ error: 'interview list 9999 not found' });
    const unlisted = await get(`/api/v1/interview-lists/${listId}/units/U_EXACT/notice`);
    expect(unlisted.status).toBe(404);
    expect(await unlisted.json()).toEqual({ error: `unit U_EXACT is not on interview list ${listId}` });
    expect((await get(`/api/v1/interview-lists/${listId}/units/U_BOTH/notice`, {})).status).toBe(401);
  });
});
