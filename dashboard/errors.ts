// The one error handler of every route (set in dashboard/app.ts). An AppError
// (common/errors.ts) answers its statusCode and message; fastify's own errors
// (bad JSON, body too large, …) their 4xx and message; a failed zod schema 400
// with every issue named. Anything else is a bug: logged in full and answered
// 500 without its message, which may hold internals (SQL, paths).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../common/errors.js';

/** What a client is told of an unexpected failure; the details are in the service log. */
export const INTERNAL_ERROR = 'internal error; the details are in the service log (part: http)';

export function errorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(err)) {
    return reply.code(400).send({ error: 'invalid request', issues: err.validation.map((v) => `${v.instancePath} ${v.message}`.trim()) });
  }
  const status = err instanceof AppError ? err.statusCode : ((err as { statusCode?: number }).statusCode ?? 500);
  if (status >= 500) req.log.error({ err }, 'request failed');
  const exposed = err instanceof AppError || status < 500;
  return reply.code(status).send({ error: exposed ? err.message : INTERNAL_ERROR });
}
