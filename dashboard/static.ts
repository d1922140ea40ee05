// The dashboard UI (dashboard/ui, built by `npm run build:ui` into
// dashboard/ui/dist) served at / by the same server as the API.
//
// - Files are served from dist as they are at the time of the request.
// - Hashed assets (/assets/*) are immutable; index.html is no-cache, so a new
//   build is picked up on the next load.
// - SPA fallback: any other GET that accepts text/html and is not /api,
//   /healthz or /metrics answers index.html (the UI routes by hash, but a
//   bookmarked path still lands in the app).
// - Without a build, / (and every such page) answers 503 saying how to build it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

/** dashboard/ui/dist, from the source tree (tsx) or from the compiled tree (dist/dashboard). */
export function defaultUiDir(): string {
  const candidates = [fileURLToPath(new URL('./ui/dist', import.meta.url)), fileURLToPath(new URL('../../dashboard/ui/dist', import.meta.url))];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? candidates[0]!;
}

const NOT_UI = /^\/(api(\/|$)|healthz$|metrics$)/;
const NOT_BUILT = 'the UI is not built: run npm run build:ui';

export const staticRoutes: FastifyPluginAsync<{ dir?: string }> = async (app, opts) => {
  const dir = opts.dir ?? defaultUiDir();
  // Files are looked up per request (not listed at start-up), so a rebuild while the service runs is served at once.
  await app.register(fastifyStatic, {
    root: dir,
    serve: false, // only reply.sendFile; the route below decides what to send
    cacheControl: false,
    etag: true,
    lastModified: true,
    setHeaders: (reply, path) => {
      reply.header('cache-control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
      reply.header('x-content-type-options', 'nosniff');
    },
  });
  let built = false;
  const isBuilt = () => (built ||= existsSync(join(dir, 'index.html')));

  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    let path: string;
    try {
      path = decodeURIComponent(req.url.split('?')[0] ?? '/');
    } catch {
      return reply.callNotFound();
    }
    if (NOT_UI.test(path)) return reply.callNotFound();
    if (path !== '/' && /\.[A-Za-z0-9]+$/.test(path) && !path.includes('..')) {
      if (isBuilt() && existsSync(join(dir, path))) return reply.sendFile(path.slice(1));
      return reply.callNotFound();
    }
    const wantsHtml = path === '/' || (req.headers.accept ?? '').includes('text/html');
    if (!wantsHtml) return reply.callNotFound();
    if (!isBuilt()) return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT);
    return reply.sendFile('index.html');
  };
  app.get('/', { schema: { hide: true } }, handler);
  app.get('/*', { schema: { hide: true } }, handler);
};
