// The UI's static serving (dashboard/static.ts) on a bare fastify: hashed
// assets immutable, index.html no-cache, the SPA fallback for pages (never
// for /api, /healthz, /metrics), and a 503 that says how to build the UI.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticRoutes } from '../../dashboard/static.js';

let dir: string;
const apps: FastifyInstance[] = [];

async function app(uiDir: string): Promise<FastifyInstance> {
  const a = Fastify();
  a.get('/api/v1/thing', async () => ({ ok: true }));
  a.get('/healthz', async () => ({ status: 'ok' }));
  await a.register(staticRoutes, { dir: uiDir });
  await a.ready();
  apps.push(a);
  return a;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ui-static-'));
  mkdirSync(join(dir, 'dist', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'dist', 'index.html'), '<!doctype html><div id="app"></div>');
  writeFileSync(join(dir, 'dist', 'assets', 'index-abc123.js'), 'console.log(1)');
});
afterAll(async () => {
  for (const a of apps) await a.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('UI static serving', () => {
  it('serves index.html at / with no-cache and hashed assets as immutable', async () => {
    const a = await app(join(dir, 'dist'));
    const root = await a.inject({ url: '/' });
    expect(root.statusCode).toBe(200);
    expect(root.headers['content-type']).toMatch(/text\/html/);
    expect(root.headers['cache-control']).toBe('no-cache');
    expect(root.body).toContain('id="app"');
    const js = await a.inject({ url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await a.inject({ url: '/assets/missing-1.js' })).statusCode).toBe(404);
  });

  it('answers index.html for any page a browser asks for, but not for the API, health or metrics', async () => {
    const a = await app(join(dir, 'dist'));
    const html = { accept: 'text/html,application/xhtml+xml' };
    const page = await a.inject({ url: '/alerts/123?x=1', headers: html });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('id="app"');
    expect((await a.inject({ url: '/alerts/123', headers: { accept: 'application/json' } })).statusCode).toBe(404);
    const api = await a.inject({ url: '/api/v1/nothing-here', headers: html });
    expect(api.statusCode).toBe(404);
    expect(api.body).not.toContain('id="app"');
    expect((await a.inject({ url: '/api/v1/thing', headers: html })).json()).toEqual({ ok: true });
    expect((await a.inject({ url: '/healthz', headers: html })).json()).toEqual({ status: 'ok' });
    expect((await a.inject({ url: '/metrics', headers: html })).statusCode).toBe(404);
    expect((await a.inject({ url: '/../../etc/passwd.txt' })).statusCode).toBe(404);
  });

  it('says how to build the UI when it is not built', async () => {
    const a = await app(join(dir, 'not-built'));
    const r = await a.inject({ url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toBe('the UI is not built: run npm run build:ui');
    expect((await a.inject({ url: '/overview', headers: { accept: 'text/html' } })).statusCode).toBe(503);
    expect((await a.inject({ url: '/api/v1/thing' })).statusCode).toBe(200);
  });
});
