// The suite's PostgreSQL (test/global-setup.ts): started once for all tests,
// or TEST_DATABASE_URL; every test file can reach it through inject('pgUrl').
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';

describe("the suite's PostgreSQL", () => {
  it('answers at inject("pgUrl") as a role that may create tables', async () => {
    const c = new pg.Client({ connectionString: inject('pgUrl'), connectionTimeoutMillis: 5000 });
    await c.connect();
    try {
      await c.query('CREATE TEMP TABLE probe (n integer)');
      await c.query('INSERT INTO probe VALUES (1), (2)');
      expect((await c.query('SELECT sum(n)::int AS s FROM probe')).rows).toEqual([{ s: 3 }]);
    } finally {
      await c.end();
    }
  });
});
