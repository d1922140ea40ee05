// Revoked credentials end the connections made with them, in one process: a
// gateway given a new secret, or a removed gateway or partner, is
// disconnected at once (real service, real MQTT.js clients over TCP), counted
// as a refusal with reason `revoked`; the gateway reconnects with its new secret.
import { describe, expect, it } from 'vitest';
import { api, connect, publish, status } from '../helpers.js';
import { brokerFixture, closedWithin } from './fixture.js';

/** The broker closes the connection inside the API call that revokes; the bound only keeps a failure short. */
const AT_ONCE_MS = 5000;

const f = brokerFixture();

describe('revoked credentials', () => {
  it('a gateway given a new secret is disconnected, and reconnects with the new one only', async () => {
    const c = await connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1);
    await publish(c, 'se/v1/elevator/E1/status', status('rv-1'));
    const before = (await f.refusals()).revoked ?? 0;

    const fresh = await closedWithin(c, AT_ONCE_MS, async () => (await api(f.s, 'POST', '/api/v1/gateways/GW1/secret')).body.secret as string);
    expect(c.connected).toBe(false);
    expect((await f.refusals()).revoked).toBe(before + 1);

    await expect(connect(f.s.mqttPort, 'GW1', f.city.secrets.GW1)).rejects.toThrow(/bad user ?name or password/i);
    const again = await connect(f.s.mqttPort, 'GW1', fresh);
    await publish(again, 'se/v1/elevator/E1/status', status('rv-2'));
    await again.endAsync();
    f.city.secrets.GW1 = fresh;
  });

  it('a removed gateway and a removed partner are disconnected; other principals stay connected', async () => {
    const gw = await connect(f.s.mqttPort, 'GWG', f.city.secrets.GWG);
    const partner = await connect(f.s.mqttPort, 'INST', f.city.secrets.INST);
    const other = await connect(f.s.mqttPort, 'PMU1', f.city.secrets.PMU1);

    await closedWithin(gw, AT_ONCE_MS, async () => expect((await api(f.s, 'DELETE', '/api/v1/gateways/GWG')).status).toBe(204));
    await closedWithin(partner, AT_ONCE_MS, async () => expect((await api(f.s, 'DELETE', '/api/v1/partners/INST')).status).toBe(204));
    // a round trip on the other connection after both closes: it was not touched
    await publish(other, 'se/v1/records/maintenance', { id: 'rv-m1', ts: Date.now(), elevator: 'E1', unit: 'MU1', kind: 'half_monthly' });
    expect(other.connected).toBe(true);
    await other.endAsync();
  });
});
