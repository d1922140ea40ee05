// One error base class, one error handler (issue 11): every server-side error
// extends AppError and carries its statusCode; the app's one handler answers
// an AppError with that status and its message, and a plain Error (a bug)
// with 500 and no internals.
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError } from '../../common/errors.js';
import { errorHandler, INTERNAL_ERROR } from '../../dashboard/errors.js';
import { UnknownUnitError } from '../../supervision/trend.js';
import { CaseError } from '../../supervision/cases.js';
import { SpoolFullError } from '../../storage/spool.js';
import { InfluxError } from '../../storage/influx.js';
import { RegistryError } from '../../registry/registry.js';
import { ConfigError } from '../../service/config.js';
import { AlertError } from '../../alerts/store.js';
import { AccountError } from '../../dashboard/accounts.js';
import { ViewError } from '../../dashboard/views.js';

describe('error classes', () => {
  it('every server-side error class extends AppError, with the status its routes answer', () => {
    const errors: [AppError, number][] = [
      [new UnknownUnitError('unit U9 not found'), 404],
      [new CaseError('case 1 is closed', 409), 409],
      [new SpoolFullError(1024), 503],
      [new InfluxError('InfluxDB unreachable'), 502],
      [new RegistryError('units MU1 exists', 409), 409],
      [new ConfigError('HTTP_PORT must be a port'), 500],
      [new AlertError('alert 1 not found', 404), 404],
      [new AccountError('user x not found', 404), 404],
      [new ViewError('elevator E9 not found', 404), 404],
    ];
    for (const [e, status] of errors) {
      expect(e, e.constructor.name).toBeInstanceOf(AppError);
      expect(e).toBeInstanceOf(Error);
      expect([e.name, e.statusCode]).toEqual([e.constructor.name, status]);
    }
  });
});

describe('the one error handler', () => {
  let app: FastifyInstance;
  const logged: unknown[] = [];
  beforeAll(async () => {
    app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => void logged.push(JSON.parse(line)) } } });
    app.setValidatorCompiler(validatorCompiler);
    app.setSerializerCompiler(serializerCompiler);
    app.setErrorHandler(errorHandler);
    // Routes registered as plugins, as in dashboard/app.ts: the handler set on the root covers them.
    await app.register(async (scope) => {
      const r = scope.withTypeProvider<ZodTypeProvider>();
      r.get('/case', async () => { throw new CaseError('case 7 is closed; a closed case cannot be scheduled', 409); });
      r.get('/registry', async () => { throw new RegistryError('units MU9 not found', 404); });
      r.get('/bug', async () => { throw new Error('SQLITE_ERROR: no such column secret_col in /srv/data/state.db'); });
      r.get('/valid', { schema: { querystring: z.object({ n: z.coerce.number().int().max(5) }) } }, async (req) => ({ n: req.query.n }));
    });
    await app.ready();
  });
  afterAll(async () => app?.close());

  it('answers an AppError subclass with its status and message', async () => {
    const c = await app.inject('/case');
    expect([c.statusCode, c.json()]).toEqual([409, { error: 'case 7 is closed; a closed case cannot be scheduled' }]);
    const r = await app.inject('/registry');
    expect([r.statusCode, r.json()]).toEqual([404, { error: 'units MU9 not found' }]);
  });

  it('answers a plain Error with 500 without its message, and logs it', async () => {
    const r = await app.inject('/bug');
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ error: INTERNAL_ERROR });
    expect(r.body).not.toMatch(/SQLITE|secret_col|\/srv/);
    expect(JSON.stringify(logged)).toContain('secret_col'); // the operator still sees it
  });

  it('answers a failed schema with 400 naming the issue', async () => {
    const r = await app.inject('/valid?n=9');
    expect(r.statusCode).toBe(400);
    expect(r.json()).toMatchObject({ error: 'invalid request', issues: [expect.stringMatching(/n/)] });
  });
});
