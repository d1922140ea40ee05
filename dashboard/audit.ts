// The audit log: who changed what, when. One row per change made over the
// API (and by the user CLI): sign-ins and sign-outs (and failed sign-ins),
// alert acknowledgements, resolutions and notes, interview-case steps,
// supervision-order and enforcement-case steps,
// interview-list generation, registry writes and user management.
// Details are JSON and never hold a password, token or secret.
import type { Db, Statement } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ENTITIES, type EntityName } from '../registry/schemas.js';
import { sorting, type SortOf } from '../storage/sort.js';
import type { Principal } from '../common/access.js';

export interface AuditEntry {
  id: number;
  at: number;
  actor: string;
  /** 'user' | 'token' | 'anonymous' (a failed sign-in) | 'cli' */
  actorKind: string;
  action: string;
  target: string | null;
  ip: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditInput {
  actor: string;
  actorKind: string;
  action: string;
  target?: string | null | undefined;
  ip?: string | null | undefined;
  details?: Record<string, unknown> | null | undefined;
}

const SECRET_KEYS = /pass(word)?|secret|token|authorization|cookie/i;

/** A URL's query string carries credentials too (DingTalk `access_token=`, WeCom `key=`): keep the address, drop the query. */
const stripQuery = (s: string) => (/^[a-z][a-z0-9+.-]*:\/\/[^\s?]*\?/i.test(s) ? s.replace(/\?.*$/s, '?…') : s);

/** Drops anything that looks like a credential from details, at any depth. */
function scrub(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return stripQuery(v.length > 2000 ? `${v.slice(0, 2000)}…` : v);
  if (depth > 6 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.slice(0, 200).map((x) => scrub(x, depth + 1));
  return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([k]) => !SECRET_KEYS.test(k)).map(([k, x]) => [k, scrub(x, depth + 1)]));
}

/** Sort keys of the audit log (`-` first for descending); ties go by id. The default, `-id`, is newest first. */
export const AUDIT_SORT = sorting({ id: 'id', at: 'at', actor: 'actor', action: 'action' }, 'id');
export type AuditSort = SortOf<typeof AUDIT_SORT>;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'audit log',
    up: `
      CREATE TABLE IF NOT EXISTS audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, actor_kind TEXT NOT NULL,
        action TEXT NOT NULL, target TEXT, ip TEXT, details TEXT
      );
      CREATE INDEX IF NOT EXISTS audit_actor ON audit_log (actor, id);
      CREATE INDEX IF NOT EXISTS audit_action ON audit_log (action, id);
      CREATE INDEX IF NOT EXISTS audit_target ON audit_log (target, id);
    `,
  },
];

interface Row { id: number; at: number; actor: string; actor_kind: string; action: string; target: string | null; ip: string | null; details: string | null }

export class AuditLog {
  private readonly insert: Statement;

  /** `now` is the clock (injected by tests of the time filters). */
  constructor(private readonly db: Db, private readonly now: () => number = Date.now) {
    migrate(db, 'dashboard/audit', MIGRATIONS);
    this.insert = db.prepare('INSERT INTO audit_log (at, actor, actor_kind, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?, ?)');
  }

  record(e: AuditInput): void {
    const details = e.details ? JSON.stringify(scrub(e.details)) : null;
    this.insert.run(this.now(), e.actor, e.actorKind, e.action, e.target ?? null, e.ip ?? null, details);
  }

  /** Records a change made by the request's principal. */
  byRequest(req: FastifyRequest, action: string, target: string | null, details?: Record<string, unknown> | null): void {
    const p: Principal | null = req.principal ?? null;
    this.record({ actor: p?.username ?? 'anonymous', actorKind: p?.kind ?? 'anonymous', action, target, ip: req.ip, details });
  }

  /**
   * An onResponse hook: records every successful change (POST, PUT, PATCH,
   * DELETE answered with 2xx) under `action(req)`; routes that record richer
   * details themselves set `req.audited = true` or return null from `action`.
   */
  recordChanges(action: (req: FastifyRequest) => { action: string; target: string | null; details?: Record<string, unknown> } | null) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
      if (reply.statusCode >= 300 || (req as { audited?: boolean }).audited) return;
      const a = action(req);
      if (a) this.byRequest(req, a.action, a.target, a.details ?? null);
    };
  }

  list(q: { actor?: string | undefined; action?: string | undefined; target?: string | undefined; from?: number | undefined; to?: number | undefined; page?: number; pageSize?: number; sort?: AuditSort | undefined } = {}) {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.actor) (where.push('actor = @actor'), (args.actor = q.actor));
    // action: exact, or a prefix ending in '.' ("alert." = every alert action)
    if (q.action) q.action.endsWith('.') ? (where.push('action LIKE @action'), (args.action = `${q.action.replace(/[%_]/g, '')}%`)) : (where.push('action = @action'), (args.action = q.action));
    if (q.target) (where.push('target = @target'), (args.target = q.target));
    if (q.from !== undefined) (where.push('at >= @from'), (args.from = q.from));
    if (q.to !== undefined) (where.push('at < @to'), (args.to = q.to));
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    const total = (this.db.prepare(`SELECT COUNT(*) n FROM audit_log ${w}`).get(args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM audit_log ${w} ORDER BY ${AUDIT_SORT.order(q.sort ?? '-id')} LIMIT @limit OFFSET @offset`).all({ ...args, limit: pageSize, offset: (page - 1) * pageSize }) as Row[];
    const items: AuditEntry[] = rows.map((r) => ({ id: r.id, at: r.at, actor: r.actor, actorKind: r.actor_kind, action: r.action, target: r.target, ip: r.ip, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null }));
    return { items, total, page, pageSize };
  }
}

/**
 * What a successful change request did, for the audit log: an action name
 * (area.verb), a target ("alert:12", "elevators:E1") and details (the body,
 * minus credentials; imports are summarised).
 */
export function describeChange(req: FastifyRequest): { action: string; target: string | null; details?: Record<string, unknown> } | null {
  const url = req.routeOptions.url ?? req.url.split('?')[0]!;
  if (url.startsWith('/api/v1/ingest/') || !url.startsWith('/api/v1/')) return null; // data, not changes; or not the API
  const params = (req.params ?? {}) as Record<string, string>;
  const body = req.body && typeof req.body === 'object' && !Buffer.isBuffer(req.body) ? { ...(req.body as Record<string, unknown>) } : undefined;
  let m: RegExpMatchArray | null;
  // a filtered set: the filter asked for and what it acknowledged (the route leaves the ids on the request)
  if (url === '/api/v1/alerts/ack') return { action: 'alert.ack_many', target: null, details: { ...body, ...((req as { auditDetails?: Record<string, unknown> }).auditDetails ?? {}) } };
  if ((m = url.match(/^\/api\/v1\/alerts\/:id\/(ack|resolve|notes)$/))) return { action: m[1] === 'notes' ? 'alert.note' : `alert.${m[1]}`, target: `alert:${params.id}`, details: body };
  if (url === '/api/v1/interview-lists') return { action: 'interview-list.generate', target: null, details: body };
  if (url === '/api/v1/interview-lists/:id/cases') return { action: 'interview-case.open', target: `interview-list:${params.id}` };
  if (url === '/api/v1/alerts/:id/interview-case') return { action: 'interview-case.open', target: `alert:${params.id}` };
  if ((m = url.match(/^\/api\/v1\/interview-cases\/:id\/([a-z]+)$/))) return { action: `interview-case.${m[1]}`, target: `interview-case:${params.id}`, details: body }; // one route per step
  if (url === '/api/v1/credit-lists') return { action: 'credit-list.publish', target: null, details: body };
  if (url === '/api/v1/supervision-orders') return { action: 'supervision-order.open', target: (req as { auditTarget?: string }).auditTarget ?? null, details: body };
  if ((m = url.match(/^\/api\/v1\/supervision-orders\/:id\/([a-z_]+)$/))) return { action: `supervision-order.${m[1]}`, target: `supervision-order:${params.id}`, details: body }; // one route per step
  if ((m = url.match(/^\/api\/v1\/enforcement-cases\/:id\/([a-z]+)$/))) return { action: `enforcement-case.${m[1]}`, target: `enforcement-case:${params.id}`, details: body };
  if (url === '/api/v1/spot-checks/draws') { // the route leaves the draw's id and seed (drawn when not asked for) on the request
    const d = (req as { auditDetails?: { id: number; seed: number } }).auditDetails;
    return { action: 'spot-check.draw', target: d ? `spot-check-draw:${d.id}` : null, details: { ...body, ...d } };
  }
  if (url === '/api/v1/spot-checks/:id/result') return { action: 'spot-check.result', target: `spot-check:${params.id}`, details: body };
  if (url === '/api/v1/rules/:rule/run') return { action: 'rule.run', target: `rule:${params.rule}` };
  if ((m = url.match(/^\/api\/v1\/([a-z-]+)(\/:key)?(\/import|\/secret)?$/)) && Object.hasOwn(ENTITIES, m[1]!)) {
    const entity = m[1] as EntityName;
    if (m[3] === '/secret') return { action: 'registry.secret', target: `${entity}:${params.key}` };
    if (m[3] === '/import') return { action: 'registry.import', target: entity, details: { contentType: req.headers['content-type'] ?? null, bytes: typeof req.body === 'string' ? req.body.length : null } };
    const key = params.key ?? (body?.[ENTITIES[entity].key] as string | undefined) ?? null;
    const verb = req.method === 'POST' ? 'create' : req.method === 'DELETE' ? 'delete' : 'update';
    return { action: `registry.${verb}`, target: `${entity}:${key}`, details: verb === 'delete' ? undefined : body };
  }
  return { action: `api.${req.method.toLowerCase()}`, target: url, details: { params, ...(body ? { body } : {}) } };
}
