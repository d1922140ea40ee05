// Dashboard user accounts and their sessions, in the service's state db.
//
// Passwords are hashed with scrypt (random 16-byte salt; the cost parameters
// are stored with the hash, so they can be raised later without breaking old
// hashes) and compared with timingSafeEqual. A session is a random 32-byte
// token given to the client once; only its SHA-256 is stored. Sessions expire
// after SESSION_TTL_H hours without use (sliding).
import { isUniqueViolation, type Db, type Statement } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ROLES, type Role } from '../common/access.js';
import { AppError } from '../common/errors.js';
import { Listeners } from '../domain/listeners.js';

export interface User {
  username: string;
  displayName: string;
  role: Role;
  /** the districts an inspector works in; empty for admins and viewers (they see all districts) */
  districts: string[];
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

export class AccountError extends AppError {
  constructor(message: string, statusCode: 400 | 404 | 409) {
    super(message, statusCode);
  }
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 64 };
const USERNAME = /^[\p{L}\p{N}._@-]{1,64}$/u;

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))));
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export const tokenDigest = (token: string) => createHash('sha256').update(token).digest('hex');

interface UserRow {
  username: string; display_name: string; role: Role; districts: string | null; password_hash: string; created_at: number; updated_at: number; disabled: number;
}
const toUser = (r: UserRow): User => ({
  username: r.username, displayName: r.display_name, role: r.role, districts: r.districts ? (JSON.parse(r.districts) as string[]) : [],
  disabled: r.disabled === 1, createdAt: r.created_at, updatedAt: r.updated_at,
});

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  displayName?: string | undefined;
  districts?: string[] | undefined;
}

export interface UserPatch {
  displayName?: string | undefined;
  role?: Role | undefined;
  districts?: string[] | undefined;
  disabled?: boolean | undefined;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'users and sessions',
    up: `
      CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('admin', 'inspector', 'viewer')),
        districts TEXT, password_hash TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, disabled INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY, username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
        created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username);
      CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
    `,
  },
];

// A hash to compare against when the user does not exist, so a login for an
// unknown name costs the same time as a wrong password.
let dummyHash: Promise<string> | undefined;

export class Accounts {
  readonly sessionTtlMs: number;
  private readonly now: () => number;

  /** `now` is the clock (injected by tests of expiry). */
  private readonly ended = new Listeners<[username: string]>('sessions ended');

  /** Hears a user whose sessions were ended here (disabled, role or districts changed, new password). */
  onSessionsEnded(fn: (username: string) => void): () => void {
    return this.ended.on(fn);
  }

  constructor(private readonly db: Db, opts: { sessionTtlMs: number; now?: () => number }) {
    this.sessionTtlMs = opts.sessionTtlMs;
    this.now = opts.now ?? Date.now;
    migrate(db, 'dashboard/accounts', MIGRATIONS);
    // Prepared once: session() runs on every authenticated request.
    this.q = {
      user: db.prepare('SELECT * FROM users WHERE username = ?'),
      session: db.prepare('SELECT username, last_seen_at, expires_at FROM sessions WHERE token_hash = ?'),
      endSession: db.prepare('DELETE FROM sessions WHERE token_hash = ?'),
      touch: db.prepare('UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?'),
    };
  }

  private readonly q: Record<'user' | 'session' | 'endSession' | 'touch', Statement>;

  private row(username: string): UserRow | undefined {
    return this.q.user.get(username) as UserRow | undefined;
  }

  get(username: string): User | undefined {
    const r = this.row(username);
    return r && toUser(r);
  }

  list(): User[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toUser);
  }

  get count(): number {
    return (this.db.prepare('SELECT COUNT(*) n FROM users').get() as { n: number }).n;
  }

  private static districts(role: Role, districts: string[] | undefined): string | null {
    if (role !== 'inspector') return null;
    const ds = [...new Set((districts ?? []).map((d) => d.trim()).filter(Boolean))];
    if (!ds.length) throw new AccountError('an inspector needs at least one district (districts: ["北塔区", …])', 400);
    return JSON.stringify(ds);
  }

  static checkPassword(password: string): void {
    if (password.length < 10) throw new AccountError('the password must have at least 10 characters', 400);
    if (password.length > 256) throw new AccountError('the password must have at most 256 characters', 400);
  }

  async create(u: NewUser): Promise<User> {
    if (!USERNAME.test(u.username)) throw new AccountError('a user name is 1–64 letters, digits, ".", "_", "-" or "@"', 400);
    if (!ROLES.includes(u.role)) throw new AccountError(`role must be one of ${ROLES.join(', ')}`, 400);
    Accounts.checkPassword(u.password);
    const districts = Accounts.districts(u.role, u.districts);
    if (this.row(u.username)) throw new AccountError(`user ${u.username} already exists`, 409);
    const hash = await hashPassword(u.password);
    const now = this.now();
    try {
      this.db.prepare('INSERT INTO users (username, display_name, role, districts, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(u.username, u.displayName?.trim() || u.username, u.role, districts, hash, now, now);
    } catch (e) {
      if (isUniqueViolation(e)) throw new AccountError(`user ${u.username} already exists`, 409);
      throw e;
    }
    return this.get(u.username)!;
  }

  update(username: string, patch: UserPatch): User {
    const cur = this.row(username);
    if (!cur) throw new AccountError(`user ${username} not found`, 404);
    const role = patch.role ?? cur.role;
    const districts = patch.districts !== undefined || patch.role !== undefined
      ? Accounts.districts(role, patch.districts ?? (cur.districts ? (JSON.parse(cur.districts) as string[]) : []))
      : cur.districts;
    const disabled = patch.disabled === undefined ? cur.disabled : patch.disabled ? 1 : 0;
    this.db.prepare('UPDATE users SET display_name = ?, role = ?, districts = ?, disabled = ?, updated_at = ? WHERE username = ?')
      .run(patch.displayName?.trim() || cur.display_name, role, districts, disabled, this.now(), username);
    // A disabled user or changed role ends every session: the next request sees the new state.
    if (disabled || patch.role !== undefined || patch.districts !== undefined) this.endSessionsOf(username);
    return this.get(username)!;
  }

  async setPassword(username: string, password: string): Promise<void> {
    if (!this.row(username)) throw new AccountError(`user ${username} not found`, 404);
    Accounts.checkPassword(password);
    const hash = await hashPassword(password);
    this.db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE username = ?').run(hash, this.now(), username);
    this.endSessionsOf(username);
  }

  /** The user if the name and password match an enabled account; otherwise null (same cost either way). */
  async verify(username: string, password: string): Promise<User | null> {
    const r = this.row(username);
    if (!r) {
      await verifyPassword(password, await (dummyHash ??= hashPassword(randomBytes(16).toString('hex'))));
      return null;
    }
    const ok = await verifyPassword(password, r.password_hash);
    return ok && !r.disabled ? toUser(r) : null;
  }

  /** Starts a session: returns the token (given to the client, never stored). */
  startSession(username: string): { token: string; expiresAt: number } {
    const token = randomBytes(32).toString('base64url');
    const now = this.now();
    const expiresAt = now + this.sessionTtlMs;
    this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now);
    this.db.prepare('INSERT INTO sessions (token_hash, username, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(tokenDigest(token), username, now, now, expiresAt);
    return { token, expiresAt };
  }

  /** The user of a live session (and extends it), or null when unknown, expired or the user is disabled. */
  session(token: string, touch = true): User | null {
    const digest = tokenDigest(token);
    const s = this.q.session.get(digest) as { username: string; last_seen_at: number; expires_at: number } | undefined;
    const now = this.now();
    if (!s) return null;
    if (s.expires_at <= now) {
      this.q.endSession.run(digest);
      return null;
    }
    const r = this.row(s.username);
    if (!r || r.disabled) return null;
    // Sliding expiry, written at most every few seconds per session.
    if (touch && now - s.last_seen_at > Math.min(60_000, this.sessionTtlMs / 10)) {
      this.q.touch.run(now, now + this.sessionTtlMs, digest);
    }
    return toUser(r);
  }

  endSession(token: string): boolean {
    return this.q.endSession.run(tokenDigest(token)).changes > 0;
  }

  endSessionsOf(username: string): number {
    const n = this.db.prepare('DELETE FROM sessions WHERE username = ?').run(username).changes;
    this.ended.emit(username);
    return n;
  }
}
