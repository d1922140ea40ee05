// Escalation through the real pipeline: an unacknowledged critical alert is
// re-notified every N and moves up a contact level after M; an entrapment
// with no rescue arrival escalates, and its clock survives a restart.
import { afterAll, describe, expect, it } from 'vitest';
import { startWebhookSink, type WebhookSink } from '../../simulators/webhook-sink.js';
import { api, connect, publish, registerSmallCity, startTestService, testEnv, waitFor, type TestService } from '../helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function cityWithContacts(env: Record<string, string>, sink: WebhookSink): Promise<{ s: TestService; raise: (id: string) => Promise<void> }> {
  const s = await startTestService({}, env);
  const city = await registerSmallCity(s);
  const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
  cleanups.push(() => gw.endAsync());
  for (const [id, level] of [['duty', 0], ['chief', 1]] as const) {
    expect((await api(s, 'POST', '/api/v1/contacts', { id, name: id, level, minSeverity: 'critical', webhook: `${sink.url}/${id}` })).status).toBe(201);
  }
  return { s, raise: (id) => publish(gw, 'se/v1/elevator/E1/event', { id, ts: Date.now() - 200, type: 'entrapment', state: 'raised' }) };
}

const heard = (sink: WebhookSink, who: string) => sink.received.filter((r) => r.path === `/${who}`).map((r) => (r.body as { transition: string }).transition);

describe('unacknowledged critical alerts', () => {
  it('are re-notified every N seconds and escalated to the next contact level after M; acknowledging stops it', async () => {
    const sink = await startWebhookSink();
    cleanups.push(() => sink.close());
    const env = testEnv({ NOTIFY_ALLOW_HOSTS: sink.allow, ALERT_RENOTIFY_S: '1', ALERT_ESCALATE_S: '3', ALERT_MAX_LEVEL: '1', ALERT_CHECK_MS: '100', ENTRAPMENT_ARRIVAL_S: '3600' });
    const { s, raise } = await cityWithContacts(env, sink);
    cleanups.push(() => s.cleanup());
    await raise('esc-1');
    await waitFor(async () => heard(sink, 'duty'), (t) => t.length === 1, 5000);
    expect(heard(sink, 'chief')).toEqual([]); // level 1 waits for the escalation
    await waitFor(async () => heard(sink, 'duty'), (t) => t.includes('reminded'), 5000);
    await waitFor(async () => heard(sink, 'chief'), (t) => t.includes('escalated'), 8000);
    const alert = (await api(s, 'GET', '/api/v1/alerts?type=entrapment')).body.items[0];
    expect(alert.escalation).toBe(1);
    expect(heard(sink, 'duty')).toContain('escalated');

    await api(s, 'POST', `/api/v1/alerts/${alert.id}/ack`, { by: 'duty' });
    expect(await s.notifier.idle()).toBe(true);
    const after = { duty: heard(sink, 'duty').length, chief: heard(sink, 'chief').length };
    expect(heard(sink, 'duty').at(-1)).toBe('acknowledged');
    expect(heard(sink, 'chief').at(-1)).toBe('acknowledged');
    await new Promise((r) => setTimeout(r, 1500)); // more than a reminder period: nothing more
    expect(await s.notifier.idle()).toBe(true);
    expect({ duty: heard(sink, 'duty').length, chief: heard(sink, 'chief').length }).toEqual(after);
    // Reminders were spaced by the period, not sent on every check.
    const reminders = heard(sink, 'duty').filter((t) => t === 'reminded').length;
    expect(reminders).toBeGreaterThanOrEqual(1);
    expect(reminders).toBeLessThanOrEqual(3);
  });
});

describe('restart', () => {
  it('keeps an open entrapment and its arrival clock: it escalates on time after the service restarts', async () => {
    const sink = await startWebhookSink();
    cleanups.push(() => sink.close());
    const env = testEnv({ NOTIFY_ALLOW_HOSTS: sink.allow, ENTRAPMENT_ARRIVAL_S: '2', ALERT_CHECK_MS: '100', ALERT_RENOTIFY_S: '3600', ALERT_ESCALATE_S: '3600' });
    const first = await cityWithContacts(env, sink);
    await first.raise('rs-1');
    const raised = await waitFor(() => api(first.s, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.body.total === 1);
    expect(raised.body.items[0].escalation).toBe(0);
    await waitFor(async () => heard(sink, 'duty'), (t) => t.length === 1, 5000);
    await first.s.stop(); // down before the arrival limit passes

    await new Promise((r) => setTimeout(r, 2200));
    const s = await startTestService({}, env);
    cleanups.push(() => s.cleanup());
    const escalated = await waitFor(() => api(s, 'GET', `/api/v1/alerts/${raised.body.items[0].id}`), (r) => r.body.escalation >= 1, 5000);
    expect(escalated.body).toMatchObject({ state: 'open', type: 'entrapment', subject: 'E1' });
    await waitFor(async () => heard(sink, 'chief'), (t) => t.includes('escalated'), 5000);
    expect(heard(sink, 'duty').filter((t) => t === 'raised')).toHaveLength(1); // the raise was not paged again after the restart
  });
});
