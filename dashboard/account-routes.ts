// Sign-in (sessions), user management and the audit log over HTTP.
//
//   POST   /api/v1/session            {username, password}  → {user} + cookie se_session   (no auth; rate-limited)
//   GET    /api/v1/session            → {user}
//   GET    /api/v1/session/probe      → {user} or {user: null}, never 401 (no auth)
//   DELETE /api/v1/session            → 204, session ended, cookie cleared
//   PUT    /api/v1/session/password   {currentPassword, password}: change one's own password
//   GET    /api/v1/users, POST /api/v1/users, GET|PATCH /api/v1/users/:username,
//   PUT    /api/v1/users/:username/password                             (admin)
//   GET    /api/v1/audit?actor=&action=&target=&from=&to=&page=&pageSize=   (admin)
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Accounts, type User } from './accounts.js';
import { ROLES } from '../common/access.js';
import { AUDIT_SORT, type AuditLog } from './audit.js';
import { SESSION_COOKIE, cookieValue, principalOf, publicUser, type Authenticator } from './auth.js';

export interface AccountRouteOptions {
  accounts: Accounts;
  audit: AuditLog;
  auth: Authenticator;
  login: { max: number; windowMs: number };
}

const username = z.string().min(1).max(64).describe('user name');
const password = z.string().min(1).max(256);
const districts = z.array(z.string().min(1).max(64)).max(100).describe('districts an inspector works in (ignored for other roles)');
const userParams = z.object({ username });

const userOut = (u: User) => ({ username: u.username, displayName: u.displayName, role: u.role, districts: u.districts, disabled: u.disabled, createdAt: u.createdAt, updatedAt: u.updatedAt });

const isHttps = (req: FastifyRequest) => req.protocol === 'https' || req.headers['x-forwarded-proto'] === 'https';

export const accountRoutes: FastifyPluginAsync<AccountRouteOptions> = async (app, opts) => {
  const { accounts, audit, auth } = opts;
  const r = app.withTypeProvider<ZodTypeProvider>();
  await app.register(rateLimit, { global: false });
  const loginLimit = app.createRateLimit({
    max: opts.login.max,
    timeWindow: opts.login.windowMs,
    keyGenerator: (req) => `login|${req.ip}|${String((req.body as { username?: unknown } | undefined)?.username ?? '').toLowerCase()}`,
  });

  // And per address alone, generously, against guessing across many user names.
  const addressLimit = app.createRateLimit({ max: opts.login.max * 10, timeWindow: opts.login.windowMs, keyGenerator: (req) => `login|${req.ip}` });

  const limitedKeys = new Set<string>();
  // Changing one's own password checks the current one: limited like signing in, so a stolen session cannot guess it.
  const passwordLimit = app.createRateLimit({ max: opts.login.max, timeWindow: opts.login.windowMs, keyGenerator: (req) => `password|${req.principal?.username ?? req.ip}` });

  const cookieOpts = (req: FastifyRequest) => ({ httpOnly: true, sameSite: 'strict' as const, path: '/', secure: isHttps(req) });
  const audited = (req: FastifyRequest) => ((req as { audited?: boolean }).audited = true);

  r.post('/api/v1/session', {
    schema: {
      summary: 'Sign in: sets the se_session cookie (HttpOnly, SameSite=Strict)',
      description: 'Returns the user. With `bearer: true` the session token is also returned, for clients that send `Authorization: Bearer <token>` instead of the cookie. Rate-limited per client address and user name.',
      body: z.object({ username, password, bearer: z.boolean().optional().describe('also return the session token in the body') }),
    },
  }, async (req, reply) => {
    let limit = await addressLimit(req);
    if (limit.isAllowed || !limit.isExceeded) limit = await loginLimit(req);
    if (!limit.isAllowed && limit.isExceeded) {
      // One audit row per throttled key and window, not one per refused attempt (that would let anyone fill the log).
      if (!limitedKeys.has(`${req.ip}|${req.body.username}`)) {
        limitedKeys.add(`${req.ip}|${req.body.username}`);
        setTimeout(() => limitedKeys.delete(`${req.ip}|${req.body.username}`), opts.login.windowMs).unref();
        audit.record({ actor: req.body.username, actorKind: 'anonymous', action: 'session.login_limited', target: `user:${req.body.username}`, ip: req.ip });
      }
      return reply.code(429).header('retry-after', String(limit.ttlInSeconds)).send({ error: `too many sign-in attempts; try again in ${limit.ttlInSeconds} s` });
    }
    const user = await accounts.verify(req.body.username, req.body.password);
    if (!user) {
      audit.record({ actor: req.body.username, actorKind: 'anonymous', action: 'session.login_failed', target: `user:${req.body.username}`, ip: req.ip });
      return reply.code(401).send({ error: 'wrong user name or password (or the account is disabled)' });
    }
    const { token, expiresAt } = accounts.startSession(user.username);
    audit.record({ actor: user.username, actorKind: 'user', action: 'session.login', target: `user:${user.username}`, ip: req.ip });
    audited(req);
    reply.setCookie(SESSION_COOKIE, token, cookieOpts(req));
    return { user: publicUser(principalOf(user)), expiresAt, ...(req.body.bearer ? { token } : {}) };
  });

  r.get('/api/v1/session', { schema: { summary: 'The signed-in principal' } }, async (req) => ({ user: { ...publicUser(req.principal), kind: req.principal.kind } }));
  // The UI's start-up question. GET /api/v1/session answers 401 to nobody, which a browser logs as an
  // error on every visit of the sign-in page; this answers 200 with user null instead.
  r.get('/api/v1/session/probe', { schema: { summary: 'The signed-in principal, or user null when nobody is signed in (200 either way; needs no credentials)' } }, async (req) =>
    ({ user: auth.identify(req) ? { ...publicUser(req.principal), kind: req.principal.kind } : null }));

  r.delete('/api/v1/session', { schema: { summary: 'Sign out: ends the session and clears the cookie' } }, async (req, reply) => {
    const h = req.headers.authorization ?? '';
    const bearer = h.startsWith('Bearer ') ? h.slice(7).trim() : null;
    for (const t of [bearer, cookieValue(req.headers.cookie, SESSION_COOKIE)]) if (t) accounts.endSession(t);
    audit.byRequest(req, 'session.logout', `user:${req.principal.username}`);
    audited(req);
    reply.clearCookie(SESSION_COOKIE, cookieOpts(req));
    return reply.code(204).send();
  });

  r.put('/api/v1/session/password', {
    schema: { summary: 'Change one\'s own password (ends every session of the user)', body: z.object({ currentPassword: password, password }) },
  }, async (req, reply) => {
    if (req.principal.kind !== 'user') return reply.code(400).send({ error: 'the admin token has no password; set a user\'s password with PUT /api/v1/users/:username/password' });
    const limit = await passwordLimit(req);
    if (!limit.isAllowed && limit.isExceeded) return reply.code(429).header('retry-after', String(limit.ttlInSeconds)).send({ error: `too many attempts; try again in ${limit.ttlInSeconds} s` });
    if (!(await accounts.verify(req.principal.username, req.body.currentPassword))) {
      audit.byRequest(req, 'user.password_failed', `user:${req.principal.username}`, { self: true });
      audited(req);
      return reply.code(403).send({ error: 'the current password is wrong' });
    }
    await accounts.setPassword(req.principal.username, req.body.password);
    audit.byRequest(req, 'user.password', `user:${req.principal.username}`, { self: true });
    audited(req);
    reply.clearCookie(SESSION_COOKIE, cookieOpts(req));
    return reply.code(204).send();
  });

  // User management and the audit log: administrators only.
  await app.register(async (admin) => {
    admin.addHook('onRequest', auth.requireAdmin);
    const a = admin.withTypeProvider<ZodTypeProvider>();
    a.get('/api/v1/users', { schema: { summary: 'List users' } }, async () => ({ items: accounts.list().map(userOut) }));
    a.post('/api/v1/users', {
      schema: {
        summary: 'Create a user',
        body: z.object({ username, password: z.string().min(10).max(256), role: z.enum(ROLES), displayName: z.string().max(64).optional(), districts: districts.optional() }),
      },
    }, async (req, reply) => {
      const u = await accounts.create(req.body);
      audit.byRequest(req, 'user.create', `user:${u.username}`, { role: u.role, displayName: u.displayName, districts: u.districts });
      audited(req);
      return reply.code(201).send(userOut(u));
    });
    a.get('/api/v1/users/:username', { schema: { summary: 'One user', params: userParams } }, async (req, reply) => {
      const u = accounts.get(req.params.username);
      return u ? userOut(u) : reply.code(404).send({ error: `user ${req.params.username} not found` });
    });
    a.patch('/api/v1/users/:username', {
      schema: {
        summary: 'Change a user\'s name, role, districts or disable them (a change of role, districts or disabling ends their sessions)',
        params: userParams,
        body: z.object({ displayName: z.string().max(64).optional(), role: z.enum(ROLES).optional(), districts: districts.optional(), disabled: z.boolean().optional() }),
      },
    }, async (req) => {
      const u = accounts.update(req.params.username, req.body);
      audit.byRequest(req, req.body.disabled === true ? 'user.disable' : 'user.update', `user:${u.username}`, { ...req.body });
      audited(req);
      return userOut(u);
    });
    a.put('/api/v1/users/:username/password', {
      schema: { summary: 'Set a user\'s password (ends their sessions)', params: userParams, body: z.object({ password: z.string().min(10).max(256) }) },
    }, async (req, reply) => {
      await accounts.setPassword(req.params.username, req.body.password);
      audit.byRequest(req, 'user.password', `user:${req.params.username}`);
      audited(req);
      return reply.code(204).send();
    });
    a.get('/api/v1/audit', {
      schema: {
        summary: 'The audit log, newest first unless sorted',
        querystring: z.object({
          actor: z.string().max(64).optional(),
          action: z.string().max(64).optional().describe('exact action, or a prefix ending in "." (e.g. "alert.")'),
          target: z.string().max(200).optional(),
          from: z.coerce.number().int().optional().describe('ms since epoch, inclusive'),
          to: z.coerce.number().int().optional().describe('ms since epoch, exclusive'),
          page: z.coerce.number().int().min(1).default(1),
          pageSize: z.coerce.number().int().min(1).max(500).default(50),
          sort: z.enum(AUDIT_SORT.values).default('-id').describe('id, at, actor or action; a leading - sorts descending (default -id: newest first)'),
        }),
      },
    }, async (req) => audit.list(req.query));
  });
};
