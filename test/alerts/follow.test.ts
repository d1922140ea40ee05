// Cluster mode's alert transitions: two nodes (two AlertStores on one real
// PostgreSQL schema, each with its own connection and its own NatsBus on a
// real nats-server) each hear every transition of both, once, in seq order,
// after commit (alerts/transition-feed.ts).
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertStore, type AlertResult, type RaiseInput } from '../../alerts/store.js';
import { openDb } from '../../storage/db.js';
import { NatsBus } from '../../storage/nats-bus.js';
import { freshPostgresUrl } from '../db.js';
import { quietLog, waitFor } from '../helpers.js';
import { natsServerForFile } from '../nats.js';

const nats = natsServerForFile('se-alert-follow-');
const entrapment = (subject: string): RaiseInput => ({ type: 'entrapment', severity: 'critical', subjectKind: 'elevator', subject, district: '大祥区', at: Date.now() });

describe('alert transitions in follow mode (two nodes, PostgreSQL and NATS)', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  /** Two nodes on one fresh schema; each records what its listeners hear. */
  async function cluster(opts: { backstopMs: number; pageSize?: number }) {
    const url = await freshPostgresUrl(cleanups);
    const node = async () => {
      const db = openDb({ url, dataDir: '' });
      const store = new AlertStore(db, quietLog);
      const nc = await connect({ servers: nats().url });
      const bus = new NatsBus(nc, quietLog);
      const heard: AlertResult[] = [];
      store.onTransition((r) => heard.push(r));
      const stop = store.follow(bus, opts);
      cleanups.unshift(async () => {
        stop();
        bus.close();
        await nc.close();
        db.close();
      });
      return { store, bus, heard, seqs: () => heard.map((r) => r.seq) };
    };
    const a = await node(); // creates the tables before the second node opens
    const b = await node();
    return { a, b };
  }

  it('a raise, acknowledge and resolve on one node are heard on the other within 1 s, and once on the node itself, in seq order', async () => {
    const { a, b } = await cluster({ backstopMs: 60_000 }); // the backstop never runs: notices do the work
    const raised = a.store.raise(entrapment('E1'));
    expect(a.heard).toEqual([]); // not emitted inside the call: delivered through the log, like every node's
    await waitFor(async () => b.seqs(), (s) => s.includes(raised.seq), 1000);
    const acked = a.store.acknowledge(raised.alert.id, 'inspector-wang');
    await waitFor(async () => b.seqs(), (s) => s.includes(acked.seq), 1000);
    const resolved = a.store.resolve(raised.alert.id, 'inspector-wang', 'released');
    await waitFor(async () => b.seqs(), (s) => s.includes(resolved.seq), 1000);
    // A round trip the other way: by then A has read past its own notices too.
    const other = b.store.raise(entrapment('E2'));
    await waitFor(async () => a.seqs(), (s) => s.includes(other.seq), 1000);
    const expected = [raised.seq, acked.seq, resolved.seq, other.seq];
    expect(a.seqs()).toEqual(expected);
    await waitFor(async () => b.seqs(), (s) => s.length === 4, 1000);
    expect(b.seqs()).toEqual(expected);
    expect(b.heard.map((r) => r.transition)).toEqual(['raised', 'acknowledged', 'resolved', 'raised']);
    expect(b.heard[2]!.alert).toMatchObject({ state: 'resolved', resolvedBy: 'inspector-wang', resolution: 'released' });
  });

  it('transitions of both nodes, interleaved, reach both in the same seq order, page by page', async () => {
    const { a, b } = await cluster({ backstopMs: 60_000, pageSize: 3 });
    const n = 40;
    for (let i = 0; i < n; i++) {
      const node = i % 3 === 0 ? b : a;
      const r = node.store.raise(entrapment(`E${i % 7}`));
      if (i % 5 === 0) node.store.note(r.alert.id, 'dispatcher', `call ${i}`);
      // Let the feeds run now and then, so some reads fall between the writes.
      if (i % 4 === 0) await new Promise((r) => setImmediate(r));
    }
    const log = a.store.eventsSince(0, 10_000).map((r) => r.seq);
    expect(log.length).toBe(n + Math.ceil(n / 5));
    await waitFor(async () => Math.min(a.heard.length, b.heard.length), (k) => k >= log.length, 5000);
    expect(a.seqs()).toEqual(log);
    expect(b.seqs()).toEqual(log);
  });

  it('a node that missed the notices (its bus is off) catches up on the backstop timer', async () => {
    const { a, b } = await cluster({ backstopMs: 200 });
    b.bus.close(); // B hears no notice from now on
    const r = a.store.raise(entrapment('E1'));
    const heard = await waitFor(async () => b.seqs(), (s) => s.includes(r.seq), 5000);
    expect(heard).toEqual([r.seq]);
  });

  it('a node reads the log when its bus reconnects (notices sent meanwhile are lost)', async () => {
    const { a, b } = await cluster({ backstopMs: 60_000 });
    a.bus.close(); // A announces nothing: only B's reconnect can tell it to look
    const r = a.store.raise(entrapment('E1'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b.heard).toEqual([]);
    await nats().restart();
    const heard = await waitFor(async () => b.seqs(), (s) => s.includes(r.seq), 15_000);
    expect(heard).toEqual([r.seq]);
  });
});
