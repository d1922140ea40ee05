// Credentials and rights at the MQTT edge, with real MQTT.js clients over TCP.
import { describe, expect, it } from 'vitest';
import { connect, publish, status } from '../helpers.js';
import { brokerFixture } from './fixture.js';

const f = brokerFixture();
const { refusals } = f;

describe('authentication', () => {
  it('accepts a gateway with the secret issued for it', async () => {
    const c = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1);
    expect(c.connected).toBe(true);
    await c.endAsync();
  });

  it('refuses a wrong secret, an unknown id and a client without credentials, and counts each', async () => {
    await expect(connect(f.s.mqttPort, 'GW1', 'not-the-secret')).rejects.toThrow(/bad user ?name or password/i);
    await expect(connect(f.s.mqttPort, 'NOPE', f.city.secrets.GW1)).rejects.toThrow(/bad user ?name or password/i);
    await expect(connect(f.s.mqttPort)).rejects.toThrow(/bad user ?name or password/i);
    const r = await refusals();
    expect(r.bad_credentials).toBe(2);
    expect(r.no_credentials).toBe(1);
  });

  it('a secret issued again replaces the old one', async () => {
    const old = f.city.secrets.HOT!;
    const r = await fetch(`${f.s.httpUrl}/api/v1/partners/HOT/secret`, { method: 'POST', headers: { authorization: 'Bearer test-admin-token' } });
    const fresh = ((await r.json()) as { secret: string }).secret;
    await expect(connect(f.s.mqttPort, 'HOT', old)).rejects.toThrow(/bad user ?name or password/i);
    const c = await connect(f.s.mqttPort, 'HOT', fresh);
    await c.endAsync();
    f.city.secrets.HOT = fresh;
  });
});

describe('rights', () => {
  const cases: [string, string, string][] = [
    ['GW1', 'se/v1/elevator/E3/status', 'an elevator the gateway is not bound to'],
    ['GW1', 'se/v1/gas-site/G1/reading', 'a gas site of another gateway'],
    ['GW1', 'se/v1/records/maintenance', 'a record channel'],
    ['INST', 'se/v1/records/maintenance', 'a channel of another partner kind'],
    ['PMU1', 'se/v1/elevator/E1/status', 'an equipment topic'],
    ['GW1', 'se/v1/elevator/E1/telemetry', 'a topic outside the protocol'],
  ];
  for (const [who, topic, what] of cases) {
    it(`${who} publishing to ${what} is refused by closing the connection`, async () => {
      const before = (await refusals()).topic_not_permitted ?? 0;
      const c = await connect(f.s.mqttPort, who, f.city.secrets[who]);
      await expect(publish(c, topic, status('x1'))).rejects.toThrow(/closed/);
      expect((await refusals()).topic_not_permitted).toBe(before + 1);
      c.end(true);
    });
  }

  it('partners publish to their own record channels', async () => {
    const c = await connect(f.s.mqttPort, 'PMU1', f.city.secrets.PMU1);
    await publish(c, 'se/v1/records/maintenance', { id: 'm1', ts: Date.now(), elevator: 'E1', unit: 'MU1', kind: 'half_monthly' });
    await publish(c, 'se/v1/records/rescue', { id: 'r1', ts: Date.now(), elevator: 'E1', unit: 'MU1', stage: 'dispatched' });
    await c.endAsync();
  });

  it('a gateway\'s retained publish is acknowledged and spooled, and the broker keeps nothing of it (nobody can subscribe)', async () => {
    const c = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1);
    const spooled = async () => Number(/^se_messages_in_total\{transport="mqtt",channel="status"\} (\d+)/m.exec(await (await fetch(`${f.s.httpUrl}/metrics`)).text())?.[1] ?? 0);
    const before = await spooled();
    await new Promise<void>((res, rej) => c.publish('se/v1/elevator/E1/status', JSON.stringify(status('retained-1', Date.now())), { qos: 1, retain: true }, (e) => (e ? rej(e) : res())));
    expect(await spooled()).toBe(before + 1);
    const kept: unknown[] = [];
    const persistence = (f.s.broker.aedes as unknown as { persistence: { createRetainedStream(pattern: string): AsyncIterable<unknown> } }).persistence;
    for await (const p of persistence.createRetainedStream('#')) kept.push(p);
    expect(kept).toEqual([]);
    await c.endAsync();
  });

  it('denies every subscription', async () => {
    const c = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1);
    await expect(c.subscribeAsync('se/v1/elevator/E1/#')).rejects.toThrow(/subscribe error/i);
    await c.endAsync();
    expect((await refusals()).subscribe_not_permitted).toBe(1);
  });
});
