// `npm ci` must not warn EBADENGINE on the Node version we say we support:
// every package in the lock file has to accept our minimum Node version.
import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL('package-lock.json', root), 'utf8')) as { packages: Record<string, { version?: string; engines?: unknown }> };

describe('engines', () => {
  const minimum = semver.minVersion(pkg.engines.node)!.version;

  it('package.json engines.node has a minimum, and the lock file records the same range', () => {
    expect(minimum).toMatch(/^20\./); // the machines and CI run Node 20
    expect((lock.packages['']!.engines as { node: string }).node).toBe(pkg.engines.node);
  });

  it('no package in package-lock.json excludes our minimum Node version', () => {
    const excluding = Object.entries(lock.packages)
      .filter(([path]) => path !== '')
      .map(([path, p]) => ({ path, version: p.version, node: (p.engines as { node?: unknown } | undefined)?.node }))
      // engines is sometimes an array in old packages, which npm ignores too
      .filter((p): p is typeof p & { node: string } => typeof p.node === 'string' && !semver.satisfies(minimum, p.node))
      .map((p) => `${p.path.replace(/^.*node_modules\//, '')}@${p.version} needs node ${p.node}`);
    expect(excluding, `our engines.node is ${pkg.engines.node} (minimum ${minimum})`).toEqual([]);
  });
});
