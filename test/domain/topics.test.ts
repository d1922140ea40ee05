// parseTopic compares in place instead of splitting (it runs twice per
// message); it must answer exactly as the plain split-based reading of the
// contract's topics, on every topic built from the pieces below.
import { describe, expect, it } from 'vitest';
import { parseTopic, RECORD_CHANNELS, type Route } from '../../domain/channels.js';

/** The contract's topics read the plain way: the oracle. */
function oracle(topic: string): Route | null {
  if (!topic.startsWith('se/v1/')) return null;
  const parts = topic.slice(6).split('/');
  if (parts.length === 2 && parts[0] === 'records') return (RECORD_CHANNELS as readonly string[]).includes(parts[1]!) ? ({ channel: parts[1], equipment: null } as Route) : null;
  if (parts.length !== 3) return null;
  const [kind, code, leaf] = parts as [string, string, string];
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(code)) return null;
  if (kind === 'elevator' && (leaf === 'status' || leaf === 'event')) return { channel: leaf, equipment: { kind: 'elevator', code } };
  if (kind === 'gas-site' && (leaf === 'reading' || leaf === 'filling')) return { channel: leaf, equipment: { kind: 'gas_site', code } };
  return null;
}

describe('parseTopic', () => {
  it('answers as the split-based reading of the contract on every combination of prefixes, kinds, codes and leaves', () => {
    const prefixes = ['se/v1/', 'se/v2/', '', 'se/v1', '/se/v1/'];
    const kinds = ['elevator/', 'gas-site/', 'records/', 'elevatorx/', 'gas-site', ''];
    const codes = ['E1', '', 'A'.repeat(32), 'A'.repeat(33), 'a_b-C9', 'a b', 'a/b', 'maintenance', 'hazard', 'x/y'];
    const leaves = ['', '/status', '/event', '/reading', '/filling', '/status/x', '/', '/statusx', 'status'];
    let n = 0;
    for (const p of prefixes) for (const k of kinds) for (const c of codes) for (const l of leaves) {
      const t = `${p}${k}${c}${l}`;
      expect(parseTopic(t), t).toEqual(oracle(t));
      n++;
    }
    for (const c of RECORD_CHANNELS) expect(parseTopic(`se/v1/records/${c}`)).toEqual({ channel: c, equipment: null });
    expect(n).toBe(2700);
  });
});
