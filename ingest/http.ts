// Records over HTTP: POST the same JSON bodies as MQTT to
// /api/v1/ingest/<topic>. The caller authenticates as a gateway or partner
// (HTTP Basic, same credentials and rights as MQTT) or with the admin token.
// The body is validated at once, so the answer names every rejected object,
// and appended to the durable spool before the 202 (the same path as an MQTT
// QoS 1 publish, so dead letters are counted in one place).
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { publishDenied } from '../broker/broker.js';
import { RECORD_CHANNELS, topics } from '../domain/channels.js';
import type { Registry } from '../registry/registry.js';
import type { Metrics } from '../common/metrics.js';
import { HTTP_TRANSPORT, SpoolFullError, type IngressLog } from '../storage/spool.js';
import type { Caller, RouteAuth } from '../common/access.js';
import { decode, REJECT_REASONS } from './decode.js';
import { DEAD_LETTER_SORT, type DeadLetters } from './dead-letters.js';

export interface IngestHttpOptions {
  registry: Registry;
  spool: IngressLog;
  deadLetters: DeadLetters;
  metrics: Metrics;
  auth: RouteAuth;
}

export const ingestRoutes: FastifyPluginAsync<IngestHttpOptions> = async (app, opts) => {
  const { registry, spool, metrics, auth } = opts;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));

  // Who sends, and whether they may publish to this topic, is decided at
  // onRequest: a refused sender's body (up to 1 MiB) is never read.
  const callers = new WeakMap<FastifyRequest, Caller>();
  const admit = async (req: FastifyRequest, reply: FastifyReply) => {
    const topic = (req.params as { '*': string })['*'];
    const caller = auth.caller(req);
    if (!caller) {
      metrics.refusals.inc({ reason: 'bad_credentials' });
      return auth.refuseBody(reply).code(401).header('www-authenticate', 'Basic realm="se-monitor"').send({ error: 'authenticate with the gateway or partner id and secret (HTTP Basic), or the admin token' });
    }
    if (caller.kind === 'principal') {
      const denied = publishDenied(registry, caller.id, topic);
      if (typeof denied === 'string') {
        metrics.refusals.inc({ reason: 'topic_not_permitted' });
        req.log.warn({ reason: 'topic_not_permitted', sender: caller.id, topic }, denied);
        return auth.refuseBody(reply).code(403).send({ error: denied });
      }
    }
    callers.set(req, caller);
  };

  const described = {
    summary: 'Send gateway-protocol messages over HTTP: the body of an MQTT publish to the topic after /api/v1/ingest/',
    description: `Topics: se/v1/elevator/{code}/status|event, se/v1/gas-site/{site}/reading|filling, ${RECORD_CHANNELS.map((c) => topics.record(c)).join(', ')}. `
      + 'Protocol v1.1 added se/v1/records/hazard (safety hazards found and rectified). Answers 202 {accepted, rejected: [{index, reason, message}]}.',
  };
  app.post('/api/v1/ingest/*', { onRequest: admit, schema: described }, async (req, reply) => {
    const topic = (req.params as { '*': string })['*'];
    const caller = callers.get(req)!;
    const sender = caller.kind === 'admin' ? 'admin' : caller.id;
    const payload = req.body as Buffer;
    const now = Date.now();
    const d = decode(topic, payload, now, registry, sender);
    try {
      await spool.appendAsync({ qos: HTTP_TRANSPORT, topic, sender, receivedAt: now, payload });
    } catch (e) {
      const full = e instanceof SpoolFullError;
      metrics.refusals.inc({ reason: full ? 'spool_full' : 'spool_error' });
      return reply.code(503).header('retry-after', '30').send({ error: (e as Error).message });
    }
    if (d.channel) metrics.messagesIn.inc({ transport: 'http', channel: d.channel });
    return reply.code(202).send({
      accepted: d.items.length,
      rejected: d.rejects.map(({ reason, message, index }) => ({ index, reason, message })),
    });
  });

  const r = app.withTypeProvider<ZodTypeProvider>();
  // Dead letters hold raw payloads, topics and senders of every district: administrators only.
  r.get('/api/v1/dead-letters', {
    onRequest: auth.requireAdmin,
    schema: {
      querystring: z.object({
        reason: z.enum(REJECT_REASONS).optional(),
        sender: z.string().optional(),
        page: z.coerce.number().int().min(1).default(1),
        pageSize: z.coerce.number().int().min(1).max(500).default(50),
        sort: z.enum(DEAD_LETTER_SORT.values).default('-seq').describe('seq, at, reason or sender; a leading - sorts descending (default -seq: newest first)'),
      }),
    },
  }, async (req) => ({ ...opts.deadLetters.list(req.query), countsByReason: opts.deadLetters.countsByReason() }));
};
