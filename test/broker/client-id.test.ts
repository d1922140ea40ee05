// One principal can never end another's session: a client id is scoped to
// the credentials that connect with it (README "Client ids").
import { describe, expect, it } from 'vitest';
import { connect, publish, status } from '../helpers.js';
import { brokerFixture } from './fixture.js';
import { rawConnect } from './raw-mqtt.js';

const f = brokerFixture();

describe('client ids', () => {
  it("a gateway connecting with another gateway's client id does not disconnect it", async () => {
    const a = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1, { clientId: 'GW1' });
    let aClosed = false;
    a.on('close', () => { aClosed = true; });
    const b = await connect(f.s.mqttPort, 'GWG', f.city.secrets.GWG, { clientId: 'GW1' });
    // Round trips on both after B's CONNACK: a takeover would have closed A by now.
    await publish(b, 'se/v1/gas-site/G1/reading', { id: 'r1', ts: Date.now(), detector: 'D1', lel: 1 });
    expect(aClosed).toBe(false);
    await publish(a, 'se/v1/elevator/E1/status', status('s-a1'));
    expect(a.connected && b.connected).toBe(true);
    await Promise.all([a.endAsync(), b.endAsync()]);
  });

  it('the same gateway reconnecting with its client id still replaces its older connection [MQTT-3.1.4-2]', async () => {
    const old = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1, { clientId: 'GW1' });
    const closed = new Promise<void>((r) => old.once('close', () => r()));
    const fresh = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1, { clientId: 'GW1' });
    await closed;
    await publish(fresh, 'se/v1/elevator/E1/status', status('s-a2'));
    await fresh.endAsync();
    old.end(true);
  });

  it("a persistent session is the principal's own: another principal with the same client id starts a new one", async () => {
    const gw1 = { username: 'GW1', password: f.city.secrets.GW1! };
    const gwg = { username: 'GWG', password: f.city.secrets.GWG! };
    for (const [who, present] of [[gw1, 0], [gw1, 1], [gwg, 0], [gw1, 1]] as const) {
      const c = await rawConnect(f.s.mqttPort, { clientId: 'shared-id', clean: false, ...who });
      expect(c.connack.toString('hex'), `${who.username}`).toBe(Buffer.from([0x20, 2, present, 0]).toString('hex'));
      c.socket.end(Buffer.from([0xe0, 0x00]));
      await c.closed;
    }
  });

  it('any client id a client library picks keeps working (random, the gateway id, a device serial)', async () => {
    for (const clientId of [undefined, 'GW1', 'SN-00042/α']) {
      const c = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1, clientId === undefined ? {} : { clientId });
      await publish(c, 'se/v1/elevator/E1/status', status(`s-${clientId ?? 'random'}`));
      await c.endAsync();
    }
  });
});
