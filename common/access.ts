// HTTP access rules every route group applies: who a principal is, which
// districts' data they may see, who acts. Low-level and shared, so the routes
// of registry/, alerts/, supervision/ and ingest/ need not import the
// dashboard; the dashboard (dashboard/auth.ts) signs people in and builds the
// authenticator that sets `req.principal`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isCityWide } from '../domain/alerts.js';

export const ROLES = ['admin', 'inspector', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  kind: 'user' | 'token';
  username: string;
  displayName: string;
  role: Role;
  /** null = all districts */
  districts: string[] | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on every authenticated /api/v1 request. */
    principal: Principal;
  }
}

/** Whether a principal may see an alert: its district's, or every inspector for a city-wide one (domain/alerts.ts). */
export const alertInScope = (p: Principal, a: { district: string | null; subjectKind: string }): boolean => isCityWide(a) || inScope(p, a.district);

/** Whether a principal may see data of this district (admins, viewers and the admin token see all; an inspector only their districts). */
export function inScope(p: Principal, district: string | null | undefined): boolean {
  if (p.role !== 'inspector' || p.districts === null) return true;
  return typeof district === 'string' && p.districts.includes(district);
}

/** Who acts: a signed-in user is always themselves; only the admin token may name someone in `by` (default "admin-token"). */
export const actorOf = (req: FastifyRequest, by: unknown): string =>
  req.principal?.kind === 'user' ? req.principal.username : typeof by === 'string' && by ? by : req.principal?.username ?? 'admin-token';

export type Caller = { kind: 'admin' } | { kind: 'principal'; id: string };

/**
 * A refusal answered before the body is read (role checks run at onRequest)
 * closes the connection, so a refused upload is not read to its end just to
 * keep the connection alive.
 */
export function refuseBody(reply: FastifyReply): FastifyReply {
  const h = reply.request.headers;
  if (h['transfer-encoding'] || Number(h['content-length'] ?? 0) > 0) reply.header('connection', 'close');
  return reply;
}

/** What routes outside the dashboard need from its authenticator (dashboard/auth.ts builds one). */
export interface RouteAuth {
  /** For partner ingest: the admin token, or a gateway's or partner's HTTP Basic credentials. */
  caller(req: FastifyRequest): Caller | null;
  refuseBody(reply: FastifyReply): FastifyReply;
  /** onRequest: the admin role (admin users and the admin token). */
  requireAdmin(req: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}
