// The registry: maintenance units, elevators, gas sites, partners and
// gateways, persisted in the state db (SQLite or PostgreSQL) and held in memory for the hot path
// (authorising a publish, tagging a point). Secrets are stored as SHA-256
// digests: they are 192-bit random tokens, so a slow password hash would add
// CPU on every reconnect storm without adding any resistance to guessing.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import { z } from 'zod';
import { ENTITIES, type EntityName, type EntityTypes } from './schemas.js';
import type { PartnerKind } from '../domain/channels.js';
import { Listeners, type ErrorLog } from '../domain/listeners.js';
import { AppError } from '../common/errors.js';

export class RegistryError extends AppError {
  constructor(message: string, statusCode: 400 | 404 | 409) {
    super(message, statusCode);
  }
}

export interface ListQuery {
  page?: number;
  pageSize?: number;
  q?: string | undefined;
  filter?: Record<string, string | undefined>;
  /** an extra condition, e.g. the caller's districts */
  where?: ((item: Record<string, unknown>) => boolean) | undefined;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

/**
 * A local write, as a pointer other nodes follow to re-read the database
 * (registry/cluster-sync.ts sends it on the cluster's bus): an item of a
 * collection stored or removed, or a principal's secret issued.
 */
export type RegistryNotice = { kind: 'item'; collection: EntityName; key: string } | { kind: 'secret'; id: string };
/** Many notices of one collection, or of secrets, as one (a bulk write): re-read with a query per few hundred keys. */
export type RegistryBatch = { kind: 'items'; collection: EntityName; keys: string[] } | { kind: 'secrets'; ids: string[] };

/** Keys per `IN (…)` of a re-read. */
const RELOAD_CHUNK = 500;

function* chunks<T>(all: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size);
}
const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

export type Principal =
  | { kind: 'gateway'; id: string; elevators: ReadonlySet<string>; gasSites: ReadonlySet<string> }
  | { kind: 'partner'; id: string; partnerKind: PartnerKind; unit?: string | undefined };

/** A collection's table: its entity name with `-` as `_` (gas-sites → gas_sites). */
const tableOf = (name: EntityName) => name.replace('-', '_');

/** One table per collection, all of one shape: the item as JSON under its key. */
const collectionDdl = (table: string) => `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at INTEGER NOT NULL);`;

// A collection added later gets a step of its own (a new version), never an edit of v1.
const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'collections and credentials',
    up: (['units', 'elevators', 'gas-sites', 'partners', 'gateways', 'contacts'] as const).map((n) => collectionDdl(tableOf(n))).join(' ')
      + ' CREATE TABLE IF NOT EXISTS credentials (principal TEXT PRIMARY KEY, digest BLOB NOT NULL, issued_at INTEGER NOT NULL)',
  },
];

type Checker<N extends EntityName> = (item: EntityTypes[N]) => string | null;

/**
 * Fields whose values repeat across many items (a city's districts, its units, due dates): each distinct value
 * is kept once, not once per item as parsing makes it: 100,000 elevators take 19.8 MB of heap instead of 22.1.
 * The pool keeps at most SHARED_MAX values (beyond, new values are simply not shared).
 */
const SHARED_FIELDS: ReadonlySet<string> = new Set(['district', 'userUnit', 'maintenanceUnit', 'unit', 'nextInspectionDue', 'installedOn', 'kind']);
const SHARED_MAX = 200_000;
const shared = new Map<string, string>();
function share<T>(item: T): T {
  const rec = item as Record<string, unknown>;
  for (const k in rec) {
    const v = rec[k];
    if (typeof v !== 'string' || !SHARED_FIELDS.has(k)) continue;
    const known = shared.get(v);
    if (known !== undefined) rec[k] = known;
    else if (shared.size < SHARED_MAX) shared.set(v, v);
  }
  return item;
}

class Collection<N extends EntityName> {
  readonly items = new Map<string, EntityTypes[N]>();
  private insert;
  private del;
  private selectAll;
  private readonly table: string;
  private readonly keyField: string;
  check: Checker<N> = () => null;
  private readonly changes: Listeners<[key: string, item: EntityTypes[N] | undefined]>;

  /** `wrote` hears each local write (not a reload) once it is in the database. */
  constructor(private db: Db, readonly name: N, private readonly wrote: (key: string) => void, log?: ErrorLog) {
    this.changes = new Listeners(`registry ${name} change`, log);
    const table = (this.table = tableOf(name));
    this.insert = db.prepare(`INSERT INTO ${table} (key, data, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`);
    this.del = db.prepare(`DELETE FROM ${table} WHERE key = ?`);
    this.selectAll = db.prepare<{ key: string; data: string }>(`SELECT key, data FROM ${table}`);
    this.keyField = ENTITIES[name].key;
    for (const row of this.selectAll.iterate()) this.items.set(row.key, share(JSON.parse(row.data)));
  }

  /** Listeners hear every item stored (`item`) or removed (`undefined`), after it is written. */
  onChange(fn: (key: string, item: EntityTypes[N] | undefined) => void): () => void {
    return this.changes.on(fn);
  }

  get schema(): z.ZodType<EntityTypes[N]> {
    return ENTITIES[this.name].schema as unknown as z.ZodType<EntityTypes[N]>;
  }

  keyOf(item: EntityTypes[N]): string {
    return (item as Record<string, string>)[this.keyField]!;
  }

  get(key: string): EntityTypes[N] | undefined {
    return this.items.get(key);
  }

  list(q: ListQuery = {}): Page<EntityTypes[N]> {
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    const needle = q.q?.toLowerCase();
    const filters = Object.entries(q.filter ?? {}).filter(([, v]) => v !== undefined && v !== '');
    const all = [...this.items.values()].filter((it) => {
      const rec = it as Record<string, unknown>;
      for (const [k, v] of filters) if (String(rec[k]) !== v) return false;
      if (q.where && !q.where(rec)) return false;
      return !needle || JSON.stringify(it).toLowerCase().includes(needle);
    });
    all.sort((a, b) => (this.keyOf(a) < this.keyOf(b) ? -1 : 1));
    return { items: all.slice((page - 1) * pageSize, page * pageSize), total: all.length, page, pageSize };
  }

  /** Validates and stores one item (create or replace). */
  put(input: unknown, mode: 'create' | 'upsert' = 'upsert'): EntityTypes[N] {
    const parsed = this.schema.safeParse(input);
    if (!parsed.success) throw new RegistryError(formatIssues(parsed.error), 400);
    const item = share(parsed.data);
    const key = this.keyOf(item);
    if (mode === 'create' && this.items.has(key)) throw new RegistryError(`${this.name} ${key} already exists`, 409);
    const problem = this.check(item);
    if (problem) throw new RegistryError(problem, 400);
    this.insert.run(key, JSON.stringify(item), Date.now());
    this.items.set(key, item);
    this.changes.emit(key, item);
    this.wrote(key);
    return item;
  }

  patch(key: string, changes: Record<string, unknown>): EntityTypes[N] {
    const current = this.items.get(key);
    if (!current) throw new RegistryError(`${this.name} ${key} not found`, 404);
    return this.put({ ...current, ...changes, [this.keyField]: key });
  }

  remove(key: string): void {
    if (!this.items.delete(key)) throw new RegistryError(`${this.name} ${key} not found`, 404);
    this.del.run(key);
    this.changes.emit(key, undefined);
    this.wrote(key);
  }

  /** Re-reads items another node wrote; how many changed in memory (onChange heard for each of those only). */
  reload(keys: readonly string[]): number {
    let changed = 0;
    for (const chunk of chunks(keys, RELOAD_CHUNK)) {
      const rows = this.db.prepare<{ key: string; data: string }>(`SELECT key, data FROM ${this.table} WHERE key IN (${placeholders(chunk.length)})`).all(...chunk);
      const stored = new Map(rows.map((r) => [r.key, r.data]));
      for (const key of chunk) if (this.apply(key, stored.get(key))) changed++;
    }
    return changed;
  }

  /** Re-reads every item (notices may have been missed); how many changed or vanished. */
  reloadAll(): number {
    // all(), not iterate(): a change listener may query the same connection.
    const rows = this.selectAll.all();
    const stored = new Set<string>();
    let changed = 0;
    for (const row of rows) {
      stored.add(row.key);
      if (this.apply(row.key, row.data)) changed++;
    }
    for (const key of [...this.items.keys()]) if (!stored.has(key) && this.apply(key, undefined)) changed++;
    return changed;
  }

  /** Sets memory to the stored JSON (undefined: gone). Items are stored as JSON.stringify of the item, so equal text is an equal item. */
  private apply(key: string, data: string | undefined): boolean {
    const current = this.items.get(key);
    if (data === undefined) {
      if (!current) return false;
      this.items.delete(key);
      this.changes.emit(key, undefined);
      return true;
    }
    if (current && JSON.stringify(current) === data) return false;
    const item = share(JSON.parse(data) as EntityTypes[N]);
    this.items.set(key, item);
    this.changes.emit(key, item);
    return true;
  }

  /** Stores many items in one transaction; returns per-item errors without aborting the rest. */
  putMany(rows: { row: number; input: unknown }[]): { row: number; error: string }[] {
    const errors: { row: number; error: string }[] = [];
    this.db.transaction(() => {
      for (const { row, input } of rows) {
        try {
          this.put(input);
        } catch (e) {
          errors.push({ row, error: (e as Error).message });
        }
      }
    })();
    return errors;
  }
}

export function formatIssues(err: z.ZodError): string {
  return err.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ');
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class Registry {
  readonly units: Collection<'units'>;
  readonly elevators: Collection<'elevators'>;
  readonly gasSites: Collection<'gas-sites'>;
  readonly partners: Collection<'partners'>;
  readonly gateways: Collection<'gateways'>;
  readonly contacts: Collection<'contacts'>;
  private secrets = new Map<string, Buffer>();
  private principals = new Map<string, Principal>();
  private putSecret;
  private selectSecrets;
  private readonly writes: Listeners<[RegistryNotice]>;
  private readonly revoked: Listeners<[principalId: string]>;

  /** `log` hears a change listener's failure (default: a plain pino logger). */
  constructor(private db: Db, log?: ErrorLog) {
    migrate(db, 'registry/registry', MIGRATIONS);
    this.writes = new Listeners('registry write', log);
    this.revoked = new Listeners('registry revocation', log);
    this.putSecret = db.prepare(`INSERT INTO credentials (principal, digest, issued_at) VALUES (?, ?, ?) ON CONFLICT(principal) DO UPDATE SET digest = excluded.digest, issued_at = excluded.issued_at`);
    this.selectSecrets = db.prepare<{ principal: string; digest: Buffer }>('SELECT principal, digest FROM credentials');
    for (const r of this.selectSecrets.iterate()) this.secrets.set(r.principal, r.digest);
    const collection = <N extends EntityName>(name: N) =>
      new Collection(db, name, (key) => this.writes.emit({ kind: 'item', collection: name, key }), log);
    this.units = collection('units');
    this.elevators = collection('elevators');
    this.gasSites = collection('gas-sites');
    this.partners = collection('partners');
    this.gateways = collection('gateways');
    this.contacts = collection('contacts');

    this.elevators.check = (e) => (this.units.get(e.maintenanceUnit) ? null : `maintenanceUnit: unknown maintenance unit ${e.maintenanceUnit}`);
    this.partners.check = (p) => {
      if (this.gateways.get(p.id)) return `id: ${p.id} is already a gateway`;
      if (p.kind === 'maintenance_unit' && (!p.unit || !this.units.get(p.unit))) return `unit: a maintenance_unit partner needs the id of a registered maintenance unit`;
      return null;
    };
    this.gateways.check = (g) => {
      if (this.partners.get(g.id)) return `id: ${g.id} is already a partner`;
      const missingE = g.elevators.filter((c) => !this.elevators.get(c));
      const missingG = g.gasSites.filter((c) => !this.gasSites.get(c));
      if (missingE.length) return `elevators: not registered: ${missingE.slice(0, 10).join(', ')}`;
      if (missingG.length) return `gasSites: not registered: ${missingG.slice(0, 10).join(', ')}`;
      return null;
    };
    const refreshGateway = (id: string, g: EntityTypes['gateways'] | undefined) => {
      if (g) this.principals.set(id, { kind: 'gateway', id, elevators: new Set(g.elevators), gasSites: new Set(g.gasSites) });
      else this.principals.delete(id);
    };
    const refreshPartner = (id: string, p: EntityTypes['partners'] | undefined) => {
      if (p) this.principals.set(id, { kind: 'partner', id, partnerKind: p.kind, unit: p.unit });
      else this.principals.delete(id);
    };
    this.gateways.onChange(refreshGateway);
    this.partners.onChange(refreshPartner);
    for (const [k, g] of this.gateways.items) refreshGateway(k, g);
    for (const [k, p] of this.partners.items) refreshPartner(k, p);
    // After the principal is gone, so a revocation listener sees the new state.
    const revokeRemoved = (id: string, item: unknown) => item === undefined && this.revoked.emit(id);
    this.gateways.onChange(revokeRemoved);
    this.partners.onChange(revokeRemoved);
  }

  /** Hears every local write (never a reload), e.g. to tell the other nodes of a cluster; returns `off`. */
  onWrite(fn: (notice: RegistryNotice) => void): () => void {
    return this.writes.on(fn);
  }

  /**
   * Hears that a gateway's or partner's credentials stopped being valid: it was removed or given a
   * new secret, here or (through reload) on another node. Its connections should end; returns `off`.
   */
  onRevoked(fn: (principalId: string) => void): () => void {
    return this.revoked.on(fn);
  }

  /** Applies another node's write(s): re-reads those items or secrets; how many changed in memory. */
  reload(notice: RegistryNotice | RegistryBatch): number {
    switch (notice.kind) {
      case 'item': return this.collection(notice.collection).reload([notice.key]);
      case 'items': return this.collection(notice.collection).reload(notice.keys);
      case 'secret': return this.reloadSecrets([notice.id]);
      case 'secrets': return this.reloadSecrets(notice.ids);
    }
  }

  private reloadSecrets(ids: readonly string[]): number {
    let changed = 0;
    for (const chunk of chunks(ids, RELOAD_CHUNK)) {
      const rows = this.db.prepare<{ principal: string; digest: Buffer }>(`SELECT principal, digest FROM credentials WHERE principal IN (${placeholders(chunk.length)})`).all(...chunk);
      const stored = new Map(rows.map((r) => [r.principal, r.digest]));
      for (const id of chunk) if (this.setDigest(id, stored.get(id))) changed++;
    }
    return changed;
  }

  /** Re-reads everything (after notices may have been missed); how many items and secrets changed. */
  reloadAll(): number {
    let changed = 0;
    for (const name of Object.keys(ENTITIES) as EntityName[]) changed += this.collection(name).reloadAll();
    const stored = new Map(this.selectSecrets.all().map((r) => [r.principal, r.digest]));
    for (const id of new Set([...this.secrets.keys(), ...stored.keys()])) if (this.setDigest(id, stored.get(id))) changed++;
    return changed;
  }

  /** Holds `digest` as id's secret; a replaced or dropped secret is a revocation. True when it changed. */
  private setDigest(id: string, digest: Buffer | undefined): boolean {
    const old = this.secrets.get(id);
    if (digest ? old?.equals(digest) : !old) return false;
    if (digest) this.secrets.set(id, digest);
    else this.secrets.delete(id);
    if (old) this.revoked.emit(id);
    return true;
  }

  collection<N extends EntityName>(name: N): Collection<N> {
    const c = { units: this.units, elevators: this.elevators, 'gas-sites': this.gasSites, partners: this.partners, gateways: this.gateways, contacts: this.contacts }[name];
    return c as unknown as Collection<N>;
  }

  principal(id: string): Principal | undefined {
    return this.principals.get(id);
  }

  /** Issues a new secret for a gateway or partner; the plain secret is returned once and never stored. */
  issueSecret(id: string): string {
    if (!this.principals.has(id)) throw new RegistryError(`no gateway or partner ${id}`, 404);
    const secret = randomBytes(24).toString('base64url');
    const digest = sha256(secret);
    this.putSecret.run(id, digest, Date.now());
    this.setDigest(id, digest);
    this.writes.emit({ kind: 'secret', id });
    return secret;
  }

  /** Stores many secrets at once (the simulator issuing a city's credentials). */
  issueSecrets(ids: string[]): Map<string, string> {
    const out = new Map<string, string>();
    this.db.transaction(() => {
      for (const id of ids) out.set(id, this.issueSecret(id));
    })();
    return out;
  }

  /** Constant-time check of a presented secret. */
  verifySecret(id: string, secret: string | Buffer | undefined): boolean {
    const stored = this.secrets.get(id);
    const given = sha256(secret === undefined ? '' : secret.toString());
    // Compare even when unknown, so timing does not tell which ids exist.
    const ok = timingSafeEqual(stored ?? Buffer.alloc(32), given);
    return ok && stored !== undefined && this.principals.has(id);
  }
}
