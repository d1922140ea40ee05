// Request authentication for the API until user accounts arrive: the admin
// bearer token for registry and operations endpoints, a gateway's or
// partner's own credentials (HTTP Basic, the same id and secret as MQTT) for
// posting records.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../registry/registry.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

export type Caller = { kind: 'admin' } | { kind: 'principal'; id: string };

export function authenticator(adminToken: string, registry: Registry) {
  const adminDigest = digest(adminToken);
  const isAdminToken = (t: string) => timingSafeEqual(digest(t), adminDigest);
  function caller(req: FastifyRequest): Caller | null {
    const h = req.headers.authorization ?? '';
    if (h.startsWith('Bearer ')) return isAdminToken(h.slice(7)) ? { kind: 'admin' } : null;
    if (h.startsWith('Basic ')) {
      const [id, ...rest] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
      return id && registry.verifySecret(id, rest.join(':')) ? { kind: 'principal', id } : null;
    }
    return null;
  }
  return {
    caller,
    /** For WebSocket upgrades: the admin token as a bearer header, or as `?token=` (browsers cannot set headers on a WebSocket). */
    adminHeaders(headers: Record<string, string | string[] | undefined>, token: string | null): boolean {
      const h = typeof headers.authorization === 'string' ? headers.authorization : '';
      return h.startsWith('Bearer ') ? isAdminToken(h.slice(7)) : token !== null && isAdminToken(token);
    },
    /** preHandler: only the admin token passes. */
    async requireAdmin(req: FastifyRequest, reply: FastifyReply) {
      const c = caller(req);
      if (c?.kind !== 'admin') return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'this endpoint needs the admin token: Authorization: Bearer <ADMIN_TOKEN>' });
    },
  };
}
export type Authenticator = ReturnType<typeof authenticator>;
