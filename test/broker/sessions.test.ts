// The memory of persistent sessions is bounded in bytes, forgetting the
// least recently connected first.
import { describe, expect, it } from 'vitest';
import { SessionSet } from '../../broker/sessions.js';

describe('SessionSet', () => {
  it('reports a session present only after it was created, and not after cleanSession=1 discarded it', () => {
    const s = new SessionSet(1 << 20);
    expect(s.resume('GW1/a')).toBe(false);
    expect(s.resume('GW1/a')).toBe(true);
    expect(s.resume('GWG/a')).toBe(false);
    expect(s.discard('GW1/a')).toBe(true);
    expect(s.resume('GW1/a')).toBe(false);
  });

  it('stays within its byte bound, forgetting the least recently connected session first', () => {
    const id = (i: number) => `GW1/c-${String(i).padStart(4, '0')}`;
    const s = new SessionSet(10 * (64 + 2 * id(0).length)); // room for ten
    for (let i = 0; i < 10; i++) s.resume(id(i));
    expect(s.resume(id(0))).toBe(true); // reconnected: now the most recent
    s.resume(id(10)); // evicts c-0001, the least recent
    expect(s.discard(id(1))).toBe(false);
    expect(s.discard(id(0))).toBe(true);
    for (let i = 11; i < 10_000; i++) s.resume(id(i));
    expect(Array.from({ length: 10 }, (_, k) => s.discard(id(9_990 + k))).every(Boolean)).toBe(true);
    expect(s.discard(id(9_989))).toBe(false);
  });
});
