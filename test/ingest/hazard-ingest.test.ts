// records/hazard (protocol v1.1) through a real service on both state
// backends: MQTT and HTTP ingest, dead letters with readable reasons, the
// partners' rights, dedup by id, the hazard routes and the scorecards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { cstDate } from '../../domain/time.js';
import { api, connect, publish, registerSmallCity, startTestService, waitFor, type SmallCity, type TestService } from '../helpers.js';
import { BACKENDS, databaseUrl } from '../db.js';

const TOPIC = 'se/v1/records/hazard';
const hazard = (id: string, extra: Record<string, unknown> = {}) => ({ id, ts: Date.now() - 60_000, elevator: 'E1', level: 'general', category: '门锁', source: 'self_inspection', state: 'found', ...extra });

for (const backend of BACKENDS) {
  describe(`hazard records on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    let s: TestService;
    let city: SmallCity;
    let mu: MqttClient;
    beforeAll(async () => {
      s = await startTestService({ DATABASE_URL: await databaseUrl(backend, cleanups) });
      city = await registerSmallCity(s);
      mu = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
    });
    afterAll(async () => {
      await mu?.endAsync();
      await s?.cleanup();
      for (const c of cleanups.splice(0)) await c();
    });
    const letters = async (reason: string) => (await api(s, 'GET', `/api/v1/dead-letters?reason=${reason}&pageSize=500`)).body.items as { message: string; excerpt: string; transport: string }[];
    const letterFor = (reason: string, id: string) => waitFor(() => letters(reason), (l) => l.some((x) => x.excerpt.includes(`"${id}"`))).then((l) => l.find((x) => x.excerpt.includes(`"${id}"`))!);
    const basic = (id: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${city.secrets[id]}`).toString('base64')}`, 'content-type': 'application/json' });

    it('books a maintenance unit\'s hazard sent over MQTT, a major one raising its alert, and a re-sent id once', async () => {
      await publish(mu, TOPIC, hazard('mq-1', { level: 'major', category: '制动器', description: '制动器制动力不足' }));
      await publish(mu, TOPIC, hazard('mq-1', { level: 'major', category: '制动器', description: '制动器制动力不足' }));
      const h = await waitFor(() => api(s, 'GET', '/api/v1/hazards/mq-1'), (r) => r.status === 200);
      expect(h.body).toMatchObject({ id: 'mq-1', elevator: 'E1', unit: 'MU1', district: '大祥区', level: 'major', state: 'open', sender: 'PMU1' });
      const alerts = (await api(s, 'GET', '/api/v1/alerts?type=major_hazard')).body;
      expect(alerts.items).toHaveLength(1);
      expect(alerts.items[0]).toMatchObject({ subject: 'E1', count: 1, state: 'open' });
    });

    it('refuses bad hazards with a reason naming the field, one object of a batch at a time', async () => {
      await publish(mu, TOPIC, [hazard('bad-both', { site: 'G1' }), hazard('bad-rect', { state: 'rectified' }), hazard('bad-ev', { evidence: Array(11).fill('x.jpg') }), hazard('ok-batch')]);
      expect((await letterFor('invalid_object', 'bad-both')).message).toBe('elevator: exactly one of elevator or site is required');
      expect((await letterFor('invalid_object', 'bad-rect')).message).toMatch(/^hazardId: a rectified record must name/);
      expect((await letterFor('invalid_object', 'bad-ev')).message).toBe('evidence: at most 10 evidence entries');
      await waitFor(() => api(s, 'GET', '/api/v1/hazards/ok-batch'), (r) => r.status === 200);
      await publish(mu, TOPIC, hazard('bad-eq', { elevator: 'NOPE' }));
      expect((await letterFor('unknown_equipment', 'bad-eq')).message).toBe('equipment NOPE is not registered');
    });

    it('lets a maintenance unit report only on the elevators it maintains; institutes anywhere; a hotline not at all', async () => {
      await publish(mu, TOPIC, hazard('mu-e3', { elevator: 'E3' }));
      expect((await letterFor('unit_not_permitted', 'mu-e3')).message).toBe('partner PMU1 speaks for unit MU1, which does not maintain elevator E3');
      await publish(mu, TOPIC, hazard('mu-g1', { elevator: undefined, site: 'G1' }));
      expect((await letterFor('unit_not_permitted', 'mu-g1')).message).toMatch(/may report hazards on elevators it maintains, not on gas site G1/);
      await publish(mu, TOPIC, hazard('mu-other', { unit: 'MU2' }));
      expect((await letterFor('unit_not_permitted', 'mu-other')).message).toBe('partner PMU1 speaks for unit MU1, not MU2');

      const r = await api(s, 'POST', `/api/v1/ingest/${TOPIC}`, [hazard('inst-e3', { elevator: 'E3', source: 'inspection' }), hazard('inst-g1', { elevator: undefined, site: 'G1', source: 'inspection', category: '气瓶' })], basic('INST'));
      expect(r).toEqual({ status: 202, body: { accepted: 2, rejected: [] } });
      await waitFor(() => api(s, 'GET', '/api/v1/hazards/inst-g1'), (x) => x.status === 200);
      expect((await api(s, 'GET', '/api/v1/hazards/inst-e3')).body).toMatchObject({ unit: 'MU2', district: '双清区' });
      expect((await api(s, 'GET', '/api/v1/hazards/inst-g1')).body).toMatchObject({ site: 'G1', unit: null, district: '双清区' });

      const hot = await api(s, 'POST', `/api/v1/ingest/${TOPIC}`, hazard('hot-1'), basic('HOT'));
      expect(hot.status).toBe(403);
      expect(hot.body.error).toBe('partner HOT (hotline) may not publish hazard records');
    });

    it('takes the rectification over HTTP, resolves the major alert, and keeps an unmatched one visible', async () => {
      const r = await api(s, 'POST', `/api/v1/ingest/${TOPIC}`, [
        hazard('rect-1', { state: 'rectified', hazardId: 'mq-1', evidence: ['https://img.example.org/mq-1-after.jpg'], ts: Date.now() }),
        hazard('rect-x', { state: 'rectified', hazardId: 'nowhere' }),
        { ...hazard('bad-lvl'), level: 'severe' },
      ], basic('PMU1'));
      expect(r.status).toBe(202);
      expect(r.body.accepted).toBe(2);
      expect(r.body.rejected).toEqual([{ index: 2, reason: 'invalid_object', message: expect.stringMatching(/^level: /) }]);
      await waitFor(() => api(s, 'GET', '/api/v1/hazards/mq-1'), (x) => x.body.state === 'rectified');
      expect((await api(s, 'GET', '/api/v1/hazards/mq-1')).body).toMatchObject({ rectifyId: 'rect-1', evidence: ['https://img.example.org/mq-1-after.jpg'] });
      expect((await api(s, 'GET', '/api/v1/alerts?type=major_hazard')).body.items[0]).toMatchObject({ state: 'resolved', resolvedBy: 'system' });
      const un = await waitFor(() => api(s, 'GET', '/api/v1/hazards/unmatched'), (x) => x.body.total === 1);
      expect(un.body.items[0]).toMatchObject({ id: 'rect-x', hazardId: 'nowhere', reason: 'hazard nowhere is not in the book (yet)' });
    });

    it('lists and filters per unit and elevator, and counts open hazards in the scorecards', async () => {
      const list = (await api(s, 'GET', '/api/v1/hazards?unit=MU1&state=open')).body;
      expect(list.items.map((h: { id: string }) => h.id).sort()).toEqual(['ok-batch']);
      expect((await api(s, 'GET', '/api/v1/hazards?state=rectified')).body.items.map((h: { id: string }) => h.id)).toEqual(['mq-1']);
      expect((await api(s, 'GET', '/api/v1/hazards?level=major')).body.total).toBe(1);
      const e1 = (await api(s, 'GET', '/api/v1/hazards/by-elevator/E1')).body;
      expect(e1).toMatchObject({ elevator: 'E1', open: 1, total: 2 });
      const today = cstDate(Date.now());
      const tomorrow = cstDate(Date.now() + 86_400_000);
      const unit = (await api(s, 'GET', `/api/v1/hazards/by-unit/MU1?from=${today}&to=${tomorrow}`)).body;
      expect(unit.counts).toEqual({ found: 2, major: 1, rectified: 1, open: 1, overdue: 0 });
      expect(unit.open.map((h: { id: string }) => h.id)).toEqual(['ok-batch']);
      const cards = (await api(s, 'GET', `/api/v1/scorecards?from=${today}&to=${tomorrow}`)).body.items as { unit: string; hazards: unknown }[];
      expect(Object.fromEntries(cards.map((c) => [c.unit, c.hazards]))).toEqual({ MU1: { open: 1, overdue: 0 }, MU2: { open: 1, overdue: 0 } });
      // An inspector of 双清区 sees that district's hazards only: not E1's (大祥区), not even their count.
      expect((await api(s, 'POST', '/api/v1/users', { username: 'sq', password: 'sq-password-1', role: 'inspector', districts: ['双清区'] })).status).toBe(201);
      const token = (await api(s, 'POST', '/api/v1/session', { username: 'sq', password: 'sq-password-1', bearer: true })).body.token as string;
      const sq = { authorization: `Bearer ${token}` };
      expect((await api(s, 'GET', '/api/v1/hazards?pageSize=500', undefined, sq)).body.items.map((h: { id: string }) => h.id).sort()).toEqual(['inst-e3', 'inst-g1']);
      expect((await api(s, 'GET', '/api/v1/hazards/by-elevator/E1', undefined, sq)).body).toMatchObject({ open: 0, total: 0 });
      expect((await api(s, 'GET', '/api/v1/hazards/mq-1', undefined, sq)).status).toBe(404);
      expect((await api(s, 'GET', '/api/v1/hazards?state=bogus')).status).toBe(400);
      expect((await api(s, 'GET', '/api/v1/hazards/nope')).status).toBe(404);
    });
  });
}
