// The README's configuration table is the operators' reference: every
// setting the service reads must be documented there.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV, loadConfig } from '../../service/config.js';

describe('configuration', () => {
  it('documents every environment variable in the README', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'));
    const missing = Object.keys(ENV).filter((k) => !table.includes(`\`${k}\``));
    expect(missing).toEqual([]);
  });

  it('names every bad value in one error', () => {
    let err: unknown;
    try {
      loadConfig({ ALERT_RENOTIFY_S: '0', NOTIFY_MAX_ATTEMPTS: 'lots', DASHBOARD_URL: 'not a url' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const k of ['ALERT_RENOTIFY_S="0"', 'NOTIFY_MAX_ATTEMPTS="lots"', 'DASHBOARD_URL="not a url"']) expect(msg).toContain(k);
  });

  it('refuses INGEST_QUEUE_POINTS, naming the bound in bytes that replaced it', () => {
    expect(() => loadConfig({ INGEST_QUEUE_POINTS: '200000' })).toThrow(/INGEST_QUEUE_POINTS.*INGEST_QUEUE_BYTES/);
    expect(loadConfig({ INGEST_QUEUE_BYTES: '1048576' }).INGEST_QUEUE_BYTES).toBe(1_048_576);
  });
});
