// The optional TLS listener: off by default, on when a certificate and key
// are configured, with the same authentication.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, publish, registerSmallCity, waitFor, startTestService, status, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
const certDir = mkdtempSync(join(tmpdir(), 'se-tls-'));
const cert = join(certDir, 'cert.pem');
const key = join(certDir, 'key.pem');

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  s = await startTestService({ MQTT_TLS_CERT: cert, MQTT_TLS_KEY: key, MQTT_TLS_PORT: '0' });
  city = await registerSmallCity(s);
});
afterAll(async () => {
  await s?.cleanup();
  rmSync(certDir, { recursive: true, force: true });
});

describe('MQTT over TLS', () => {
  it('accepts a gateway over TLS and refuses a wrong secret', async () => {
    const url = `mqtts://localhost:${s.broker.tlsPort}`;
    const ca = readFileSync(cert);
    const c = await mqtt.connectAsync(url, { username: 'GW1', password: city.secrets.GW1, ca, reconnectPeriod: 0 });
    await publish(c, 'se/v1/elevator/E1/status', status('tls-1'));
    await c.endAsync();
    await waitFor(() => count(s, 'elevator_status', `WHERE id = 'tls-1'`), (n) => n === 1);
    await expect(mqtt.connectAsync(url, { username: 'GW1', password: 'wrong', ca, reconnectPeriod: 0 })).rejects.toThrow(/bad user ?name or password/i);
  });
});
