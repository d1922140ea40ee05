// MQTT 3.1.1 conformance of the CONNECT handshake, on raw sockets (a client
// library would not send these): §3.1.2.2 protocol level, §3.1.3.1 empty
// client id, §3.2.2.2 session present.
import { describe, expect, it } from 'vitest';
import { brokerFixture } from './fixture.js';
import { rawConnect } from './raw-mqtt.js';

const f = brokerFixture();

const CONNACK = (sessionPresent: 0 | 1, rc: number) => Buffer.from([0x20, 0x02, sessionPresent, rc]).toString('hex');
const gw1 = () => ({ username: 'GW1', password: f.city.secrets.GW1! });

describe('CONNECT', () => {
  for (const level of [2, 5, 6, 0x7f]) {
    it(`answers protocol level ${level} with CONNACK 0x01 (unacceptable protocol version), then closes [MQTT-3.1.2-2]`, async () => {
      const before = (await f.refusals()).unsupported_protocol ?? 0;
      const c = await rawConnect(f.s.mqttPort, { clientId: 'GW1', ...gw1(), level });
      expect(c.connack.toString('hex')).toBe(CONNACK(0, 1));
      await c.closed;
      expect((await f.refusals()).unsupported_protocol).toBe(before + 1);
    });
  }

  it('still accepts MQTT 3.1 (level 3) and 3.1.1 (level 4)', async () => {
    for (const level of [3, 4]) {
      const c = await rawConnect(f.s.mqttPort, { clientId: 'GW1', ...gw1(), level });
      expect(c.connack.toString('hex')).toBe(CONNACK(0, 0));
      c.socket.destroy();
    }
  });

  it('refuses a zero-length client id with cleanSession=0: CONNACK 0x02 (identifier rejected), then closes [MQTT-3.1.3-8]', async () => {
    const c = await rawConnect(f.s.mqttPort, { clientId: '', clean: false, ...gw1() });
    expect(c.connack.toString('hex')).toBe(CONNACK(0, 2));
    await c.closed;
    expect((await f.refusals()).identifier_rejected).toBe(1);
  });

  it('accepts a zero-length client id with cleanSession=1 [MQTT-3.1.3-6]', async () => {
    const c = await rawConnect(f.s.mqttPort, { clientId: '', clean: true, ...gw1() });
    expect(c.connack.toString('hex')).toBe(CONNACK(0, 0));
    c.socket.destroy();
  });
});

describe('session present', () => {
  const connack = async (clientId: string, clean: boolean, who = gw1()) => {
    const c = await rawConnect(f.s.mqttPort, { clientId, clean, ...who });
    c.socket.end(Buffer.from([0xe0, 0x00])); // DISCONNECT
    await c.closed;
    return c.connack.toString('hex');
  };

  it('is 0 for a new persistent session and 1 when reconnecting to it [MQTT-3.2.2-2, MQTT-3.2.2-3]', async () => {
    expect(await connack('GW1-persist', false)).toBe(CONNACK(0, 0));
    expect(await connack('GW1-persist', false)).toBe(CONNACK(1, 0));
    expect(await connack('GW1-persist', false)).toBe(CONNACK(1, 0));
  });

  it('is 0 with cleanSession=1, which also discards the stored session [MQTT-3.2.2-1, MQTT-3.1.2-6]', async () => {
    expect(await connack('GW1-clean', false)).toBe(CONNACK(0, 0));
    expect(await connack('GW1-clean', true)).toBe(CONNACK(0, 0));
    expect(await connack('GW1-clean', false)).toBe(CONNACK(0, 0));
  });

  it('a refused CONNECT creates no session', async () => {
    const c = await rawConnect(f.s.mqttPort, { clientId: 'GW1-refused', clean: false, username: 'GW1', password: 'wrong' });
    expect(c.connack.toString('hex')).toBe(CONNACK(0, 4));
    expect(await connack('GW1-refused', false)).toBe(CONNACK(0, 0));
  });
});
