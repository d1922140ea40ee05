// Behind a reverse proxy (HTTP_TRUST_PROXY), the client's address comes from
// X-Forwarded-For: sign-in limits and the audit log see the person, not the
// proxy. Without it, the header is ignored (anyone could send it).
import { afterAll, describe, expect, it } from 'vitest';
import { api, startTestService, type TestService } from '../helpers.js';

const started: TestService[] = [];
afterAll(async () => {
  for (const s of started) await s.cleanup();
});

async function failedLoginIp(extra: Record<string, string>): Promise<string | null> {
  const s = await startTestService(extra);
  started.push(s);
  const r = await fetch(`${s.httpUrl}/api/v1/session`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.7' }, body: JSON.stringify({ username: 'nobody', password: 'wrong password!' }),
  });
  expect(r.status).toBe(401);
  const log = await api(s, 'GET', '/api/v1/audit?action=session.login_failed');
  return log.body.items[0].ip;
}

describe('HTTP_TRUST_PROXY', () => {
  it('takes the client address from X-Forwarded-For only from a trusted proxy', async () => {
    expect(await failedLoginIp({ HTTP_TRUST_PROXY: '127.0.0.1' })).toBe('203.0.113.7');
    expect(await failedLoginIp({})).toBe('127.0.0.1');
  });
});
