// The server-side ring of ingest rates behind the ingest-health chart: a fixed
// number of points whatever the traffic, oldest dropped first, read after a time.
import { describe, expect, it } from 'vitest';
import { RateHistory } from '../../dashboard/rate-history.js';

const point = (at: number) => ({ at, messagesPerSec: at / 1000, storedPerSec: 1, deadLettersPerSec: 0.5 });

describe('rate history', () => {
  it('keeps the newest `capacity` points, oldest first, in a fixed size', () => {
    const h = new RateHistory(720);
    for (let i = 1; i <= 10_000; i++) h.push(point(i * 5000));
    expect(h.length).toBe(720);
    const all = h.since();
    expect(all).toHaveLength(720);
    expect(all[0]).toEqual(point((10_000 - 719) * 5000));
    expect(all.at(-1)).toEqual(point(10_000 * 5000));
    expect(all.every((p, i) => i === 0 || p.at > all[i - 1]!.at)).toBe(true);
  });

  it('answers only points after `since` (what a client does not have yet)', () => {
    const h = new RateHistory(10);
    for (let i = 1; i <= 4; i++) h.push(point(i * 5000));
    expect(h.since(10_000).map((p) => p.at)).toEqual([15_000, 20_000]);
    expect(h.since(20_000)).toEqual([]);
    expect(() => new RateHistory(0)).toThrow(/at least one point/);
  });
});
