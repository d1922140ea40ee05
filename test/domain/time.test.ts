// RFC 3339 event times (§5.6 case, §5.7 leap seconds) as the schemas accept them.
import { describe, expect, it } from 'vitest';
import { statusSchema } from '../../domain/messages.js';
import { parseRfc3339 } from '../../domain/time.js';

const status = (ts: unknown) => statusSchema.safeParse({ id: 's', ts, serviceMode: 1, carStatus: 0, direction: 0, floor: 1, doorZone: true, doorStatus: 'closed', passengers: false });

describe('RFC 3339 event time', () => {
  it('accepts lowercase t and z (RFC 3339 §5.6)', () => {
    const r = status('2026-11-01t08:00:00.250z');
    expect(r.success).toBe(true);
    expect(r.data?.ts).toBe(Date.UTC(2026, 10, 1, 8, 0, 0, 250));
    expect(status('2026-11-01t16:00:00+08:00').data?.ts).toBe(Date.UTC(2026, 10, 1, 8));
  });

  it('maps a leap second 23:59:60 to the last millisecond of its UTC day (RFC 3339 §5.7)', () => {
    const lastMs = Date.UTC(2017, 0, 1) - 1;
    expect(status('2016-12-31T23:59:60Z').data?.ts).toBe(lastMs);
    expect(status('2016-12-31T23:59:60.5Z').data?.ts).toBe(lastMs);
    expect(status('2017-01-01T07:59:60+08:00').data?.ts).toBe(lastMs); // the same leap second in Beijing time
    expect(parseRfc3339('2016-12-31T23:59:59.999Z')).toBe(lastMs); // collapses onto the second before it, never into the next day
  });

  it('still rejects what is not RFC 3339, naming the problem', () => {
    expect(parseRfc3339('2026-11-01T12:30:60Z')).toMatch(/second 60/);
    expect(parseRfc3339('2026-02-30T00:00:00Z')).toMatch(/calendar date/);
    expect(parseRfc3339('2026-11-01T24:00:00Z')).toMatch(/time of day/);
    expect(parseRfc3339('2026-11-01T08:00:00')).toMatch(/with offset/);
    expect(parseRfc3339('2026-11-01 08:00:00Z')).toMatch(/with offset/);
    expect(status('2026-11-01T08:00:00+0800').success).toBe(false);
    expect(parseRfc3339('2026-11-01T08:00:00.123456789-05:30')).toBe(Date.UTC(2026, 10, 1, 13, 30, 0, 123));
  });

  it('reads a year below 100 as that year, not as 19xx (so it is refused as before 1970, as Date.parse had it)', () => {
    expect(parseRfc3339('0075-01-01T00:00:00Z')).toBe(Date.parse('0075-01-01T00:00:00Z'));
    expect(status('0075-01-01T00:00:00Z').success).toBe(false);
    expect(parseRfc3339('1969-12-31T23:30:00-01:00')).toBe(Date.UTC(1970, 0, 1, 0, 30)); // a 1969 date that is 1970 in UTC
  });
});
