// Dashboard user accounts from the command line, on the service's state db
// (PostgreSQL when DATABASE_URL is set, else DATA_DIR/state.db; safe while
// the service runs). The first administrator is created this way — there is
// no default account or password.
//
//   npm run user -- create --username alice --role admin [--display-name 名字]
//   npm run user -- create --username bob --role inspector --districts 北塔区,双清区
//   npm run user -- list
//   npm run user -- disable --username bob        (enable: --enable)
//   npm run user -- set-password --username alice
//
// The password is read from the USER_PASSWORD environment variable, or else
// from standard input (first line; typed at a prompt when it is a terminal).
import { openDb } from '../storage/db.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AccountError, Accounts } from '../dashboard/accounts.js';
import { ROLES, type Role } from '../common/access.js';
import { AuditLog } from '../dashboard/audit.js';
import { ConfigError, loadConfig } from './config.js';

const USAGE = `usage:
  npm run user -- create --username NAME --role ${ROLES.join('|')} [--districts 北塔区,双清区] [--display-name 名字]
  npm run user -- list
  npm run user -- disable --username NAME [--enable]
  npm run user -- set-password --username NAME
The password comes from USER_PASSWORD or standard input (at least 10 characters). DATABASE_URL (PostgreSQL) or else DATA_DIR (SQLite) selects the service's state.`;

async function readPassword(): Promise<string> {
  if (process.env.USER_PASSWORD) return process.env.USER_PASSWORD;
  if (process.stdin.isTTY) process.stderr.write('password: ');
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line.replace(/\r$/, '');
  }
  throw new AccountError('no password: set USER_PASSWORD or pipe it on standard input', 400);
}

async function main(): Promise<number> {
  const { values: opt, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      username: { type: 'string' },
      role: { type: 'string' },
      districts: { type: 'string' },
      'display-name': { type: 'string' },
      enable: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const command = positionals[0];
  if (opt.help || !command) {
    console.log(USAGE);
    return command || opt.help ? 0 : 2;
  }
  const config = loadConfig();
  mkdirSync(config.dataDir, { recursive: true });
  const db = openDb({ url: config.DATABASE_URL, dataDir: config.dataDir, timeoutMs: config.DATABASE_TIMEOUT_MS });
  try {
    const accounts = new Accounts(db, { sessionTtlMs: config.SESSION_TTL_H * 3_600_000 });
    const audit = new AuditLog(db);
    const actor = { actor: process.env.USER ?? 'cli', actorKind: 'cli' };
    const need = (v: string | undefined, name: string) => {
      if (!v) throw new AccountError(`--${name} is required\n${USAGE}`, 400);
      return v;
    };
    switch (command) {
      case 'create': {
        const username = need(opt.username, 'username');
        const role = need(opt.role, 'role') as Role;
        if (!ROLES.includes(role)) throw new AccountError(`--role must be one of ${ROLES.join(', ')}`, 400);
        const districts = opt.districts?.split(/[,，]/).map((d) => d.trim()).filter(Boolean);
        const u = await accounts.create({ username, role, districts, displayName: opt['display-name'], password: await readPassword() });
        audit.record({ ...actor, action: 'user.create', target: `user:${u.username}`, details: { role: u.role, displayName: u.displayName, districts: u.districts, via: 'cli' } });
        console.log(`created ${u.role} ${u.username}${u.districts.length ? ` (${u.districts.join(', ')})` : ''}`);
        return 0;
      }
      case 'list': {
        const users = accounts.list();
        if (!users.length) console.log('no users yet: npm run user -- create --username NAME --role admin');
        for (const u of users) console.log([u.username, u.role, u.displayName, u.districts.join(',') || '-', u.disabled ? 'disabled' : 'active'].join('\t'));
        return 0;
      }
      case 'disable': {
        const username = need(opt.username, 'username');
        const u = accounts.update(username, { disabled: !opt.enable });
        audit.record({ ...actor, action: opt.enable ? 'user.enable' : 'user.disable', target: `user:${u.username}`, details: { via: 'cli' } });
        console.log(`${opt.enable ? 'enabled' : 'disabled'} ${u.username}`);
        return 0;
      }
      case 'set-password': {
        const username = need(opt.username, 'username');
        await accounts.setPassword(username, await readPassword());
        audit.record({ ...actor, action: 'user.password', target: `user:${username}`, details: { via: 'cli' } });
        console.log(`password set for ${username}; their sessions have ended`);
        return 0;
      }
      default:
        console.error(`unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } finally {
    db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof AccountError || e instanceof ConfigError) console.error(e.message);
    else console.error(e);
    process.exit(1);
  },
);
