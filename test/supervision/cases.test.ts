// Interview cases through the real service: open from a list, walk every
// step with who and when, inspectors notified on publication, repeats marked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstMidnight } from '../../domain/time.js';
import { startWebhookSink, type WebhookSink } from '../../simulators/webhook-sink.js';
import { WebSocket } from 'ws';
import { api, startTestService, waitFor, type TestService } from '../helpers.js';

let s: TestService;
let sink: WebhookSink;

beforeAll(async () => {
  sink = await startWebhookSink();
  s = await startTestService({ NOTIFY_ALLOW_HOSTS: sink.allow });
  const put = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  await put('units', { id: 'BAD', name: '屡查不改电梯维保公司' });
  for (let i = 0; i < 5; i++) await put('elevators', { code: `B${i}`, address: '测试路', district: '北塔区', userUnit: '物业', maintenanceUnit: 'BAD' });
  await put('partners', { id: 'INST', kind: 'institute', name: '特检院' });
  await put('contacts', { id: 'city', name: '市局监察科', minSeverity: 'major', webhook: `${sink.url}/city` });
  const secret = (await api(s, 'POST', '/api/v1/partners/INST/secret')).body.secret as string;
  // Five failed first inspections in 2024 and again in 2025: listed both years.
  const records = ['2024-04-01', '2025-04-01'].flatMap((d) => [0, 1, 2, 3, 4].map((i) => ({
    id: `${d}-${i}`, ts: cstMidnight(d) + i * 3_600_000, elevator: `B${i}`, institution: '特检院', kind: 'periodic', attempt: 1, result: 'fail',
  })));
  const r = await fetch(`${s.httpUrl}/api/v1/ingest/se/v1/records/inspection`, {
    method: 'POST', headers: { authorization: `Basic ${Buffer.from(`INST:${secret}`).toString('base64')}`, 'content-type': 'application/json' }, body: JSON.stringify(records),
  });
  expect(r.status).toBe(202);
  await waitFor(async () => s.spool.depthCount, (n) => n === 0);
});
afterAll(async () => {
  await s?.cleanup();
  await sink?.close();
});

const openCases = async (from: string, to: string) => {
  const list = (await api(s, 'POST', '/api/v1/interview-lists', { from, to })).body;
  expect(list.units.map((u: { unit: string }) => u.unit)).toEqual(['BAD']);
  const r = await api(s, 'POST', `/api/v1/interview-lists/${list.id}/cases`, { by: '张科长' });
  expect(r.status).toBe(201);
  return r.body.items as { id: number; state: string; repeatOf: number | null }[];
};

describe('interview cases', () => {
  it('walk from draft to closed with who and when; publication notifies the inspectors; the next year is a repeat', async () => {
    const [c2024] = await openCases('2024-01-01', '2025-01-01');
    expect(c2024).toMatchObject({ state: 'draft', repeatOf: null });
    const step = (id: number, to: string, body: unknown) => api(s, 'POST', `/api/v1/interview-cases/${id}/${to}`, body);

    expect((await step(c2024!.id, 'held', { by: 'x', minutes: 'm', commitments: ['c'] })).body.error).toMatch(/next step is published/);
    const unknown = await step(c2024!.id, 'approved', { by: 'x' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/unknown step approved; the steps are published, scheduled/);
    expect((await step(c2024!.id, 'published', { by: '张科长' })).body.state).toBe('published');
    await waitFor(async () => sink.received.filter((r) => r.path === '/city').length, (n) => n === 1, 5000);
    expect((sink.received[0]!.body as { title: string }).title).toBe('【严重】新告警：维保单位约谈');

    const bad = await step(c2024!.id, 'scheduled', { by: '张科长', place: '市局三楼会议室' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/scheduledAt/);
    await step(c2024!.id, 'scheduled', { by: '张科长', scheduledAt: '2025-01-20T09:30:00+08:00', place: '市局三楼会议室', attendees: ['维保公司总经理', '技术负责人'] });
    await step(c2024!.id, 'held', { by: '李检查员', minutes: '通报检验一次合格率偏低问题', commitments: ['一个月内完成全部电梯自查'] });
    await step(c2024!.id, 'rectifying', { by: '李检查员', rectifyDue: '2025-03-01' });
    const closed = (await step(c2024!.id, 'closed', { by: '张科长', conclusion: '整改完成，复查合格' })).body;
    expect(closed.state).toBe('closed');
    expect(closed.history.map((h: { state: string; by: string }) => `${h.state}:${h.by}`)).toEqual([
      'draft:张科长', 'published:张科长', 'scheduled:张科长', 'held:李检查员', 'rectifying:李检查员', 'closed:张科长',
    ]);
    expect(closed.details).toMatchObject({ place: '市局三楼会议室', rectifyDue: '2025-03-01', conclusion: '整改完成，复查合格' });
    const alert = (await api(s, 'GET', `/api/v1/alerts/${closed.alertId}`)).body;
    expect(alert).toMatchObject({ type: 'interview_case', subjectKind: 'maintenance_unit', subject: 'BAD', state: 'resolved', resolvedBy: '张科长' });
    expect(alert.notes).toHaveLength(3); // scheduled, held, rectifying: pushed live as notes
    expect((await step(c2024!.id, 'closed', { by: 'x', conclusion: 'again' })).status).toBe(409);
    const audited = (await api(s, 'GET', `/api/v1/audit?target=interview-case:${c2024!.id}&pageSize=50`)).body.items as { action: string }[];
    expect(audited.map((e) => e.action).sort()).toEqual(['interview-case.closed', 'interview-case.held', 'interview-case.published', 'interview-case.rectifying', 'interview-case.scheduled']);

    const [c2025] = await openCases('2025-01-01', '2026-01-01');
    expect(c2025!.repeatOf).toBe(c2024!.id);
    // Opening again (e.g. from a regenerated version) keeps the one case per unit and period.
    const again = await openCases('2025-01-01', '2026-01-01');
    expect(again.map((c) => c.id)).toEqual([c2025!.id]);
  });

  it('sorts the case list by a whitelisted key (default id, oldest first); anything else is 400', async () => {
    const [c2024] = await openCases('2024-01-01', '2025-01-01');
    const [c2025] = await openCases('2025-01-01', '2026-01-01');
    const ids = async (q: string) => (await api(s, 'GET', `/api/v1/interview-cases?unit=BAD${q}`)).body.items.map((c: { id: number }) => c.id);
    expect(await ids('')).toEqual([c2024!.id, c2025!.id]);
    expect(await ids('&sort=-periodFrom')).toEqual([c2025!.id, c2024!.id]);
    expect(await ids('&sort=periodFrom')).toEqual([c2024!.id, c2025!.id]);
    for (const bad of ['period_from', 'history', '-id;DROP TABLE interview_cases']) {
      expect((await api(s, 'GET', `/api/v1/interview-cases?sort=${encodeURIComponent(bad)}`)).status).toBe(400);
    }
  });

  it('an interview_case alert reaches inspectors: every inspector sees it and hears it live; contacts of the unit\'s districts are notified', async () => {
    const PW = 'correct horse battery';
    for (const [username, d] of [['bt', '北塔区'], ['dx', '大祥区']] as const) expect((await api(s, 'POST', '/api/v1/users', { username, role: 'inspector', districts: [d], password: PW })).status).toBe(201);
    const token = async (username: string) => {
      const r = await fetch(`${s.httpUrl}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PW, bearer: true }) });
      return ((await r.json()) as { token: string }).token;
    };
    const [bt, dx] = [await token('bt'), await token('dx')];
    const as = (t: string) => ({ authorization: `Bearer ${t}`, 'content-type': 'application/json' });
    // BAD maintains elevators in 北塔区 only: that district's inspector is told, 大祥区's is not.
    for (const [id, d] of [['insp-bt', '北塔区'], ['insp-dx', '大祥区']] as const) {
      expect((await api(s, 'POST', '/api/v1/contacts', { id, name: id, districts: [d], minSeverity: 'major', webhook: `${sink.url}/${id}` })).status).toBe(201);
    }
    const frames: { type: string; transition?: string; alert?: { type: string } }[] = [];
    const ws = new WebSocket(`${s.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: `Bearer ${dx}` } });
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await waitFor(async () => frames.some((f) => f.type === 'ready'), Boolean);

    const list = (await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' })).body;
    const [c] = (await api(s, 'POST', `/api/v1/interview-lists/${list.id}/cases`, { by: '张科长' })).body.items as { id: number }[];
    const published = (await api(s, 'POST', `/api/v1/interview-cases/${c!.id}/published`, { by: '张科长' })).body as { alertId: number };
    await waitFor(async () => frames.some((f) => f.type === 'alert' && f.alert?.type === 'interview_case' && f.transition === 'raised'), Boolean, 5000);
    ws.close();
    for (const t of [bt, dx]) {
      const listed = (await api(s, 'GET', '/api/v1/alerts?type=interview_case&state=active', undefined, as(t))).body;
      expect(listed.items.map((a: { id: number }) => a.id)).toEqual([published.alertId]);
      expect((await api(s, 'GET', `/api/v1/alerts/${published.alertId}`, undefined, as(t))).status).toBe(200);
    }
    expect((await api(s, 'GET', `/api/v1/notifications?alertId=${published.alertId}`, undefined, as(bt))).body.total).toBeGreaterThan(0);
    expect(await s.notifier.idle()).toBe(true);
    expect(sink.received.filter((r) => r.path === '/insp-bt').map((r) => (r.body as { title: string }).title)).toEqual(['【严重】新告警：维保单位约谈']);
    expect(sink.received.filter((r) => r.path === '/insp-dx')).toHaveLength(0);
  });
});
