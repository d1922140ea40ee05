// Bad input: refused with a reason, counted, kept for inspection; nothing
// else is lost and the service keeps going.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { api, connect, count, influxAuth, publish, registerSmallCity, startTestService, status, waitFor, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
let gw: MqttClient;
let mu: MqttClient;

beforeAll(async () => {
  s = await startTestService({ DEAD_LETTER_MAX: '100' });
  city = await registerSmallCity(s);
  gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
  mu = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
});
afterAll(async () => {
  await gw?.endAsync();
  await mu?.endAsync();
  await s?.cleanup();
});

async function letters(reason: string) {
  return (await api(s, 'GET', `/api/v1/dead-letters?reason=${reason}`)).body;
}

async function expectLetter(reason: string, message: RegExp, n = 1) {
  const dl = await waitFor(() => letters(reason), (b) => b.total >= n);
  expect(dl.items[0]).toMatchObject({ reason, sender: expect.any(String), topic: expect.stringMatching(/^se\/v1\//) });
  expect(dl.items[0].message).toMatch(message);
  expect(dl.items[0].excerpt.length).toBeGreaterThan(0);
  return dl.items[0];
}

describe('dead letters', () => {
  it('malformed JSON', async () => {
    await publish(gw, 'se/v1/elevator/E1/status', '{"id": "x", ');
    const l = await expectLetter('malformed_json', /not valid JSON/);
    expect(l).toMatchObject({ sender: 'GW1', transport: 'mqtt', excerpt: '{"id": "x", ' });
  });

  it('a payload over 64 KiB', async () => {
    await publish(gw, 'se/v1/elevator/E1/status', JSON.stringify({ ...status('big'), detail: 'x'.repeat(70_000) }));
    const l = await expectLetter('payload_too_large', /over 65536 bytes/);
    expect(l.excerpt.length).toBeLessThan(600);
  });

  it('a wrong shape names the field', async () => {
    await publish(gw, 'se/v1/elevator/E1/status', status('bad-shape', Date.now(), { floor: 'third', serviceMode: 42 }));
    const l = await expectLetter('invalid_object', /floor/);
    expect(l.message).toMatch(/serviceMode/);
  });

  it('a timestamp more than 5 minutes in the future', async () => {
    await publish(gw, 'se/v1/elevator/E1/status', status('future', Date.now() + 10 * 60_000));
    await expectLetter('future_timestamp', /in the future/);
  });

  it('a record for unknown equipment or an unknown unit', async () => {
    await publish(mu, 'se/v1/records/maintenance', { id: 'm-x', ts: Date.now(), elevator: 'NOPE', unit: 'MU1', kind: 'quarterly' });
    await expectLetter('unknown_equipment', /NOPE is not registered/);
    const hot = await connect(s.mqttPort, 'HOT', city.secrets.HOT);
    await publish(hot, 'se/v1/records/complaint', { id: 'c-y', ts: Date.now(), source: '12345', category: '故障', unit: 'MU404' });
    await hot.endAsync();
    await expectLetter('unknown_unit', /MU404/);
  });

  it('too many objects, an empty batch, a non-object', async () => {
    await publish(gw, 'se/v1/elevator/E1/status', Array.from({ length: 501 }, (_, i) => ({ id: `b${i}` })));
    await expectLetter('batch_too_large', /501 objects/);
    await publish(gw, 'se/v1/elevator/E1/status', '[]');
    await expectLetter('empty_batch', /empty/);
    await publish(gw, 'se/v1/elevator/E1/status', '42');
    await expectLetter('not_an_object', /number/);
  });

  it('a maintenance unit\'s app may not file records for another unit', async () => {
    await publish(mu, 'se/v1/records/maintenance', { id: 'm-other', ts: Date.now(), elevator: 'E3', unit: 'MU2', kind: 'half_monthly' });
    await expectLetter('unit_not_permitted', /speaks for unit MU1, not MU2/);
  });

  it('a line break in a tag value, or a time before 1970, is refused by the schema', async () => {
    const g = await connect(s.mqttPort, 'GWG', city.secrets.GWG);
    await publish(g, 'se/v1/gas-site/G1/reading', { id: 'nl', ts: Date.now(), detector: 'D1\nfoo lel=1', lel: 3 });
    await g.endAsync();
    await expectLetter('invalid_object', /detector: must not contain control characters/);
    await publish(gw, 'se/v1/elevator/E1/status', status('old', '1960-01-01T00:00:00+08:00'));
    await waitFor(() => letters('invalid_object'), (b) => b.items.some((x: { message: string }) => /1970/.test(x.message)));
  });

  it('a payload too deeply nested to print still becomes a dead letter and the pipeline goes on', async () => {
    const deep = `{"id":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    await publish(gw, 'se/v1/elevator/E1/status', deep);
    await publish(gw, 'se/v1/elevator/E1/status', status('after-deep'));
    await waitFor(() => count(s, 'elevator_status', `WHERE id = 'after-deep'`), (n) => n === 1);
    const all = (await api(s, 'GET', '/api/v1/dead-letters?pageSize=5')).body.items;
    expect(all.some((x: { excerpt: string }) => x.excerpt.startsWith('(unprintable') || x.excerpt.startsWith('{"id":[[['))).toBe(true);
  });

  it('one bad object in a batch rejects that object only', async () => {
    const t = Date.now() - 1000;
    const batch = [status('ok-1', t), status('ok-2', t + 1), { id: 'bad', ts: t }, status('ok-3', t + 2)];
    await publish(gw, 'se/v1/elevator/E2/status', batch);
    await waitFor(() => count(s, 'elevator_status', `WHERE elevator = 'E2' AND id =~ /^ok-/`), (n) => n === 3);
    const l = await waitFor(() => letters('invalid_object'), (b) => b.items.some((x: { excerpt: string }) => x.excerpt.includes('"bad"')));
    expect(l.items.find((x: { excerpt: string }) => x.excerpt.includes('"bad"')).index).toBe(2);
  });

  it('counts per reason in /metrics and keeps the service answering', async () => {
    const text = await (await fetch(`${s.httpUrl}/metrics`)).text();
    for (const reason of ['malformed_json', 'payload_too_large', 'invalid_object', 'future_timestamp', 'unknown_equipment', 'batch_too_large']) {
      expect(text).toMatch(new RegExp(`se_dead_letters_total\\{reason="${reason}"\\} [1-9]`));
    }
    expect((await fetch(`${s.httpUrl}/healthz`)).status).toBe(200);
  });

  it('sorts by a whitelisted key, ties by seq; anything else is 400', async () => {
    const items = (await api(s, 'GET', '/api/v1/dead-letters?pageSize=500&sort=reason')).body.items as { seq: number; reason: string }[];
    expect(new Set(items.map((l) => l.reason)).size).toBeGreaterThan(1);
    for (let i = 1; i < items.length; i++) {
      const [a, b] = [items[i - 1]!, items[i]!];
      expect(a.reason < b.reason || (a.reason === b.reason && a.seq < b.seq), `${a.reason}#${a.seq} before ${b.reason}#${b.seq}`).toBe(true);
    }
    const oldest = (await api(s, 'GET', '/api/v1/dead-letters?pageSize=1&sort=seq')).body;
    expect(oldest.items[0].seq).toBe(Math.min(...items.map((l) => l.seq)));
    for (const bad of ['excerpt', 'seq DESC', 'seq;DROP TABLE dead_letters']) {
      expect((await api(s, 'GET', `/api/v1/dead-letters?sort=${encodeURIComponent(bad)}`)).status).toBe(400);
    }
  });

  it('keeps at most DEAD_LETTER_MAX letters, newest first', async () => {
    for (let i = 0; i < 120; i++) gw.publish('se/v1/elevator/E1/status', `nope ${i}`, { qos: 0 });
    await publish(gw, 'se/v1/elevator/E1/status', 'last one');
    const all = await waitFor(() => api(s, 'GET', '/api/v1/dead-letters?pageSize=500'), (r) => r.body.items[0]?.excerpt === 'last one');
    expect(all.body.total).toBe(100);
  });
});

describe('duplicates', () => {
  it('a re-sent status with the same id changes nothing', async () => {
    const t = Date.now() - 5000;
    await publish(gw, 'se/v1/elevator/E1/status', status('dup-s', t, { floor: 7 }));
    await publish(gw, 'se/v1/elevator/E1/status', status('dup-s', t, { floor: 7 }));
    await waitFor(() => count(s, 'elevator_status', `WHERE id = 'dup-s'`), (n) => n === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await count(s, 'elevator_status', `WHERE id = 'dup-s'`)).toBe(1);
  });

  it('a re-sent record with the same id, even with another time, is counted once', async () => {
    const t = Date.now() - 86_400_000;
    await publish(mu, 'se/v1/records/maintenance', { id: 'dup-m', ts: t, elevator: 'E1', unit: 'MU1', kind: 'half_monthly' });
    await publish(mu, 'se/v1/records/maintenance', { id: 'dup-m', ts: t + 3600_000, elevator: 'E1', unit: 'MU1', kind: 'half_monthly' });
    await publish(mu, 'se/v1/records/maintenance', [{ id: 'dup-n', ts: t, elevator: 'E2', unit: 'MU1', kind: 'quarterly' }, { id: 'dup-n', ts: t, elevator: 'E2', unit: 'MU1', kind: 'quarterly' }]);
    await waitFor(() => count(s, 'maintenance', `WHERE id = 'dup-n'`), (n) => n === 1);
    expect(await count(s, 'maintenance', `WHERE id = 'dup-m'`)).toBe(1);
    const text = await (await fetch(`${s.httpUrl}/metrics`)).text();
    expect(text).toMatch(/se_duplicates_total\{channel="maintenance"\} 2/);
  });
});

describe('storage refusals', () => {
  it('a point InfluxDB refuses becomes a dead letter; the rest of its batch is stored', async () => {
    // Make InfluxDB refuse elevator_status points for this shard: a field type conflict on `speed`.
    const t = Date.now() - 2000;
    const r = await fetch(`${inject('influxUrl')}/write?db=${s.database}&precision=ms`, { method: 'POST', headers: influxAuth(), body: `elevator_status,elevator=ZZ speed="fast" ${t}` });
    expect(r.status).toBe(204);
    // One message, so both objects are in one InfluxDB write.
    await publish(gw, 'se/v1/elevator/E1/status', [status('conflict', t + 1, { speed: 1.2 }), status('fine', t + 2)]);
    const l = await expectLetter('storage_rejected', /InfluxDB refused/);
    expect(l.excerpt).toContain('"conflict"');
    expect(l.excerpt).not.toContain('"fine"');
    await waitFor(() => count(s, 'elevator_status', `WHERE id = 'fine'`), (n) => n === 1);
    expect(await count(s, 'elevator_status', `WHERE id = 'conflict'`)).toBe(0);
  });
});
