// One real service with the small city per broker test file, and the
// refusal counters as /metrics reports them.
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
