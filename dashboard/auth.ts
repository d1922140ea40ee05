// Request authentication and authorization.
//
// Every /api/v1/* request (except partner ingest, which takes a gateway's or
// partner's own credentials over HTTP Basic, and the login itself) names a
// principal by one of:
//   - the se_session cookie (set by POST /api/v1/session),
//   - Authorization: Bearer <session token>,
//   - Authorization: Bearer <ADMIN_TOKEN> (a machine principal with the admin role).
// `req.principal` carries who it is, their role and districts; routes check
// the role (requireRole) and scope their data with inScope. The access rules
// shared with other layers' routes (Principal, inScope, actorOf, …) live in
// common/access.ts; this module keeps sign-in sessions and the guard.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../registry/registry.js';
import type { Accounts, User } from './accounts.js';
import { refuseBody, type Caller, type Principal, type Role } from '../common/access.js';
import { isPartnerReply } from '../supervision/order-routes.js';

export const SESSION_COOKIE = 'se_session';

export const TOKEN_PRINCIPAL: Principal = Object.freeze({ kind: 'token', username: 'admin-token', displayName: 'Admin token', role: 'admin', districts: null }) as Principal;

export const principalOf = (u: User): Principal => ({
  kind: 'user', username: u.username, displayName: u.displayName, role: u.role, districts: u.role === 'inspector' ? [...u.districts] : null,
});

/** The user object returned by the session API. */
export const publicUser = (p: Principal) => ({ username: p.username, displayName: p.displayName, role: p.role, districts: p.districts ?? [] });

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The value of one cookie in a Cookie header (no dependency on the cookie plugin, so WebSocket upgrades can use it too). */
export function cookieValue(header: string | string[] | undefined, name: string): string | null {
  const h = Array.isArray(header) ? header.join('; ') : header;
  if (!h) return null;
  for (const part of h.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Endpoints stricter than "reads for everyone": [method ('*' = any), route pattern, roles]. */
const STRICT: [string, RegExp, Role[]][] = [
  ['*', /^\/api\/v1\/(users|audit)(\/|$)/, ['admin']],
  ['*', /^\/api\/v1\/contacts(\/|$)/, ['admin']], // webhooks and signing secrets
  ['*', /^\/api\/v1\/(gateways|partners)(\/|$)/, ['admin']], // bindings to equipment of every district; credentials
  ['*', /^\/api\/v1\/dead-letters(\/|$)/, ['admin']], // raw payloads of every district
  ['POST', /^\/api\/v1\/rules\//, ['admin']],
];

/** Requests that take no principal: signing in, asking whether one is signed in, partner ingest (HTTP Basic, checked by the route), published results. */
const open = (method: string, url: string) =>
  (method === 'POST' && (url === '/api/v1/session' || url.startsWith('/api/v1/ingest/'))) || (method === 'GET' && url === '/api/v1/session/probe')
  || (method === 'GET' && url.startsWith('/api/v1/public/spot-checks')); // published spot-check results (一公开)

const ROLE_WORDS: Record<Role, string> = { admin: 'an administrator', inspector: 'an inspector', viewer: 'a viewer' };

export function authenticator(adminToken: string, registry: Registry, accounts?: Accounts) {
  const adminDigest = digest(adminToken);
  const isAdminToken = (t: string) => timingSafeEqual(digest(t), adminDigest);

  /** The principal and session token named by a bearer token or cookie, or null. */
  function resolve(headers: IncomingHttpHeaders, queryToken: string | null = null): { principal: Principal; session: string | null } | null {
    const h = typeof headers.authorization === 'string' ? headers.authorization : '';
    const bearer = h.startsWith('Bearer ') ? h.slice(7).trim() : null;
    const candidates = [bearer, queryToken, cookieValue(headers.cookie, SESSION_COOKIE)].filter((t): t is string => !!t);
    for (const t of candidates) {
      if (isAdminToken(t)) return { principal: TOKEN_PRINCIPAL, session: null };
      const u = accounts?.session(t);
      if (u) return { principal: principalOf(u), session: t };
      if (t === bearer) return null; // an explicit but wrong bearer token is not rescued by a cookie
    }
    return null;
  }

  /** For partner ingest: the admin token, or a gateway's or partner's HTTP Basic credentials. */
  function caller(req: FastifyRequest): Caller | null {
    const h = req.headers.authorization ?? '';
    if (h.startsWith('Bearer ')) return isAdminToken(h.slice(7)) ? { kind: 'admin' } : null;
    if (h.startsWith('Basic ')) {
      const [id, ...rest] = Buffer.from(h.slice(6), 'base64').toString('utf8').split(':');
      return id && registry.verifySecret(id, rest.join(':')) ? { kind: 'principal', id } : null;
    }
    return null;
  }

  function unauthorized(reply: FastifyReply) {
    return refuseBody(reply).code(401).header('www-authenticate', 'Bearer').send({ error: 'sign in first (POST /api/v1/session; a session ends after some hours without use), or send Authorization: Bearer <session token>, or the admin token: Authorization: Bearer <ADMIN_TOKEN>' });
  }

  /** Sets req.principal from the request's credentials; true when there is one. */
  function identify(req: FastifyRequest): boolean {
    if (req.principal) return true;
    const r = resolve(req.headers);
    if (!r) return false;
    req.principal = r.principal;
    return true;
  }

  /** onRequest (before any body is read): any signed-in principal, with any of these roles (none given = any role). */
  function requireRole(...roles: Role[]) {
    return async function (req: FastifyRequest, reply: FastifyReply) {
      if (!identify(req)) return unauthorized(reply);
      if (roles.length && !roles.includes(req.principal.role)) return deny(reply, req.principal.role, roles);
    };
  }

  const deny = (reply: FastifyReply, role: Role, roles: Role[]) =>
    refuseBody(reply).code(403).send({ error: `${ROLE_WORDS[role]} may not do this; it needs the role ${roles.join(' or ')} (ask an administrator)` });

  return {
    /**
     * onRequest, for the whole app: every /api/v1 request needs a principal
     * (except signing in and partner ingest); a few areas need the admin role
     * whatever the route group says. Matches the route's pattern (routing has
     * happened), so an encoded path cannot slip past.
     */
    async guard(req: FastifyRequest, reply: FastifyReply) {
      const url = req.routeOptions.url ?? req.url.split('?')[0]!;
      if (!url.startsWith('/api/v1/') && !req.url.startsWith('/api/v1/')) return;
      if (open(req.method, url)) return;
      if (isPartnerReply(req.method, url, req.headers.authorization)) return; // a unit's partner replying to its order: checked by the route
      if (!identify(req)) return unauthorized(reply);
      const rule = STRICT.find(([m, re]) => (m === '*' || m === req.method) && re.test(url));
      if (rule && !rule[2].includes(req.principal.role)) return deny(reply, req.principal.role, rule[2]);
    },
    caller,
    refuseBody,
    resolve,
    identify,
    requireRole,
    isAdminToken,
    /** onRequest: any principal. */
    requireUser: requireRole(),
    /** onRequest: the admin role (admin users and the admin token). */
    requireAdmin: requireRole('admin'),
    /** onRequest: reads for everyone; anything else needs one of these roles. */
    writesNeed(...roles: Role[]) {
      const any = requireRole();
      const writer = requireRole(...roles);
      return async (req: FastifyRequest, reply: FastifyReply) => (req.method === 'GET' || req.method === 'HEAD' ? any(req, reply) : writer(req, reply));
    },
    /** onRequest of the registry: reads for everyone (contacts: admin, see STRICT), writes for admins. */
    get registryPolicy() {
      return this.writesNeed('admin');
    },
    /** For WebSocket upgrades: the principal from the Bearer header, ?token= or the session cookie. */
    upgrade(headers: IncomingHttpHeaders, token: string | null) {
      return resolve(headers, token);
    },
    /** Whether a session token still names a live session (for long-lived connections). */
    sessionAlive(token: string): boolean {
      return accounts?.session(token, false) != null;
    },
  };
}
export type Authenticator = ReturnType<typeof authenticator>;
