// `npm start` and the demo cannot import the service's Node flags (package.json scripts): they must say the same.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from '../../service/node-flags.js';

describe('the service\'s Node flags', () => {
  it('are the ones npm start and the demo run it with', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    const run = `node ${SERVICE_NODE_FLAGS.join(' ')} dist/service/main.js`;
    expect(pkg.scripts.start).toContain(run);
    expect(pkg.scripts.demo).toContain(`${run} --demo`);
    expect(SERVICE_NODE_FLAGS).toContain('--no-allocation-site-pretenuring');
  });
});
