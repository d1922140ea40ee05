// Users across cluster nodes: Accounts reads users and sessions from the
// shared database on every request (nothing cached in memory), so two nodes'
// Accounts on one real PostgreSQL schema agree at once: a session started on
// one node is good on the other, and a user disabled, re-roled or given a new
// password on one node is refused on the other by its very next request.
import { afterEach, describe, expect, it } from 'vitest';
import { Accounts } from '../../dashboard/accounts.js';
import { openDb } from '../../storage/db.js';
import { freshPostgresUrl } from '../db.js';

const PW = 'correct horse battery';
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function twoNodes() {
  const url = await freshPostgresUrl(cleanups);
  const dbs = [openDb({ url, dataDir: '' }), openDb({ url, dataDir: '' })];
  cleanups.unshift(() => dbs.forEach((d) => d.close()));
  const [a, b] = dbs.map((db) => new Accounts(db, { sessionTtlMs: 3_600_000 }));
  await a!.create({ username: 'li', role: 'inspector', districts: ['大祥区'], password: PW });
  return { a: a!, b: b! };
}

describe('accounts on two nodes of one database', () => {
  it('a user disabled on node A is refused on node B at once: its session there and a new sign-in', async () => {
    const { a, b } = await twoNodes();
    const onB = b.startSession('li').token;
    const onA = a.startSession('li').token;
    expect(b.session(onB)?.username).toBe('li');
    expect(b.session(onA)?.username).toBe('li'); // any node serves any session

    a.update('li', { disabled: true });
    expect(b.session(onB)).toBeNull();
    expect(b.session(onA)).toBeNull();
    expect(await b.verify('li', PW)).toBeNull();

    a.update('li', { disabled: false });
    expect(b.session(onB)).toBeNull(); // disabling ended the sessions; enabling does not revive them
    expect((await b.verify('li', PW))?.username).toBe('li');
  });

  it('a role change or a new password on node A ends the user’s sessions on node B', async () => {
    const { a, b } = await twoNodes();
    const first = b.startSession('li').token;
    a.update('li', { role: 'viewer' });
    expect(b.session(first)).toBeNull();
    const second = b.startSession('li').token;
    expect(b.session(second)?.role).toBe('viewer');
    await a.setPassword('li', 'another long password');
    expect(b.session(second)).toBeNull();
    expect(await b.verify('li', PW)).toBeNull();
  });
});
