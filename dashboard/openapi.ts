// OpenAPI: the document is generated from the routes' zod schemas
// (fastify-type-provider-zod's jsonSchemaTransform) and served at
// GET /api/openapi.json, browsable at /api/docs (Swagger UI).
// Routes without tags get one from their path, so the document is grouped by
// area. A schema that does not convert to JSON Schema never breaks the
// document: the route is listed without that part, and a warning is logged.
// A route whose handler validates its body itself (to answer with its own,
// more specific messages, or because it takes text such as CSV) names the zod
// schema in `schema.documentedBody`: the document shows it as the request
// body, and fastify does not validate it first.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { swaggerCsp } from './security.js';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

const AREAS: [RegExp, string][] = [
  [/^\/api\/v1\/session/, 'session'],
  [/^\/api\/v1\/users/, 'users'],
  [/^\/api\/v1\/audit/, 'audit'],
  [/^\/api\/v1\/(alerts|notifications)/, 'alerts'],
  [/^\/api\/v1\/rules/, 'rules'],
  [/^\/api\/v1\/(scorecards|interview-|credit|risk|spot-checks|public\/spot-checks|hazards)/, 'supervision'],
  [/^\/api\/v1\/(ingest|dead-letters)/, 'ingest'],
  [/^\/api\/v1\/(units|elevators|gas-sites|partners|gateways|contacts)/, 'registry'],
  [/^\/api\/v1\/(overview|equipment)/, 'dashboard'],
  [/^\/(healthz|metrics)/, 'operations'],
];

export function areaOf(url: string): string | null {
  for (const [re, tag] of AREAS) if (re.test(url)) return tag;
  return url.startsWith('/api/v1/') ? 'other' : null;
}

declare module 'fastify' {
  interface FastifySchema {
    /** The request body's zod schema, for the OpenAPI document only: the handler validates the body itself. */
    documentedBody?: unknown;
  }
}

type TransformArg = Parameters<typeof jsonSchemaTransform>[0];

/** Moves a route's `documentedBody` into `body`, for the document only (the route itself is not changed). */
export function withDocumentedBody(arg: TransformArg): TransformArg {
  const { documentedBody, ...schema } = (arg.schema ?? {}) as Record<string, unknown>;
  if (documentedBody === undefined) return arg;
  return { ...arg, schema: { ...schema, body: schema.body ?? documentedBody } as TransformArg['schema'] };
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  // Tag every route by area unless it says otherwise; non-API routes (the UI, docs assets) are hidden.
  app.addHook('onRoute', (route) => {
    const url = route.url ?? '';
    const area = areaOf(url);
    const schema = (route.schema ?? {}) as Record<string, unknown>;
    if (area === null && !['/healthz', '/metrics'].includes(url)) {
      route.schema = { ...schema, hide: true };
      return;
    }
    if (!schema.tags) route.schema = { ...schema, tags: [area ?? 'operations'] };
  });

  const transform = (arg: TransformArg) => {
    try {
      return jsonSchemaTransform(withDocumentedBody(arg));
    } catch (err) {
      app.log.warn({ err, url: arg.url }, 'openapi: a route schema does not convert to JSON Schema; it is listed without it');
      const { tags, summary, description, hide, consumes } = (arg.schema ?? {}) as Record<string, unknown>;
      return { schema: { tags, summary, description, hide, consumes } as typeof arg.schema, url: arg.url };
    }
  };

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'se-monitor API',
        description: 'Real-time safety monitoring for special equipment (elevators, gas-cylinder sites). Sign in with POST /api/v1/session (cookie se_session), or send `Authorization: Bearer <session token or ADMIN_TOKEN>`. Partner ingest takes HTTP Basic (gateway or partner id and secret). Gateway protocol v1.1 adds the record channel se/v1/records/hazard (hazards found and rectified; GET /api/v1/hazards).',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'se_session' },
          basic: { type: 'http', scheme: 'basic' },
        },
      },
      security: [{ bearer: [] }, { cookie: [] }],
      tags: [
        { name: 'session', description: 'Sign in and out' },
        { name: 'users', description: 'User accounts (admin)' },
        { name: 'audit', description: 'Audit log (admin)' },
        { name: 'alerts', description: 'Alerts and notifications' },
        { name: 'rules', description: 'Scheduled rules' },
        { name: 'supervision', description: 'Scorecards, interview lists and cases, the hazard book, credit grades and red/black lists, risk levels, spot checks' },
        { name: 'registry', description: 'Registry of equipment, units, partners, gateways, contacts' },
        { name: 'ingest', description: 'Partner ingest over HTTP, dead letters, ingest health' },
        { name: 'dashboard', description: 'Read APIs for the dashboard' },
        { name: 'operations', description: 'Health and metrics' },
      ],
    },
    transform,
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true, transformStaticCSP: swaggerCsp });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
