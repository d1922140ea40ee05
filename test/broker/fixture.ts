// One real service with the small city per broker test file, and the
// refusal counters as /metrics reports them.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll } from 'vitest';
import { registerSmallCity, startTestService, type SmallCity, type TestService } from '../helpers.js';

export interface BrokerFixture {
  s: TestService;
  city: SmallCity;
  /** se_refusals_total by reason */
  refusals(): Promise<Record<string, number>>;
}

/** Starts the service before the file's tests and stops it after; the fields are set once beforeAll has run. */
export function brokerFixture(): BrokerFixture {
  const f = {
    async refusals() {
      const text = await (await fetch(`${f.s.httpUrl}/metrics`)).text();
      return Object.fromEntries([...text.matchAll(/^se_refusals_total\{reason="(\w+)"\} (\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
    },
  } as BrokerFixture;
  beforeAll(async () => {
    f.s = await startTestService();
    f.city = await registerSmallCity(f.s);
  });
  afterAll(async () => f.s?.cleanup());
  return f;
}

/**
 * Runs `act` (it may return a promise) and waits for the broker to close the client's connection (the
 * test's clients do not reconnect); throws when that takes longer than `ms`. Returns act's result.
 */
export async function closedWithin<T>(client: MqttClient, ms: number, act: () => T | Promise<T>): Promise<T> {
  const closed = new Promise<void>((r) => client.once('close', () => r()));
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`still connected ${ms} ms after its credentials were revoked`)), ms)));
  try {
    const result = await act();
    await Promise.race([closed, late]);
    console.info(`credentials revoked → connection closed in ${(performance.now() - t0).toFixed(0)} ms (bound ${ms} ms)`);
    return result;
  } finally {
    clearTimeout(timer);
  }
}
