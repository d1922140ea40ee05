// Browser-facing hardening of the HTTP server: security headers with a
// Content-Security-Policy (@fastify/helmet), and a JSON body parser whose
// refusals say what is wrong.
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../common/errors.js';

/**
 * The policy the UI (Vite build: scripts and styles from /assets, echarts on
 * canvas) runs under. Styles allow 'unsafe-inline' because echarts' tooltips
 * are HTML with style attributes; scripts are 'self' only. Nobody may frame
 * the dashboard (clickjacking of acknowledge / resolve buttons). No
 * upgrade-insecure-requests: the service is often reached over plain http on
 * an intranet address, where it would break every asset.
 */
export const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  baseUri: ["'self'"],
  objectSrc: ["'none'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:', 'blob:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"], // the live WebSocket is same-origin
  workerSrc: ["'self'", 'blob:'],
  upgradeInsecureRequests: null,
};

export async function securityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    frameguard: { action: 'deny' }, // X-Frame-Options for browsers without frame-ancestors
    // HSTS belongs to whoever terminates TLS (a reverse proxy); over plain http browsers ignore it anyway.
    strictTransportSecurity: false,
  });
}

/**
 * Swagger UI brings its own policy for /api/docs (hashes of its inline
 * scripts). Its styles need 'unsafe-inline' as ours do (it sets inline styles
 * its hashes do not cover, and a hash would disable 'unsafe-inline'); framing
 * and upgrades follow our rules.
 */
export const swaggerCsp = (header: string | number | string[]): string =>
  String(header)
    .replace(/\s*upgrade-insecure-requests;?/, '')
    .replace(/frame-ancestors [^;]*/, "frame-ancestors 'none'")
    .replace(/style-src [^;]*/, "style-src 'self' 'unsafe-inline'");

/**
 * JSON bodies are parsed by fastify's own parser (prototype poisoning is
 * refused), but its one message, "Body is not valid JSON", hides which
 * problem it was. This says it: the syntax error with its position, or the
 * forbidden key.
 */
export function jsonBodies(app: FastifyInstance): void {
  const strict = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    strict(req, body as string, (err, value) => {
      if (!err || body === '') return done(err, value);
      done(jsonBodyError(body as string), undefined);
    });
  });
}

function jsonBodyError(body: string): AppError {
  let message: string;
  try {
    JSON.parse(body);
    message = 'the JSON body has a "__proto__" key (or "constructor" with "prototype"), which is refused because it could change object prototypes; remove that key';
  } catch (e) {
    message = `the body is not valid JSON: ${(e as Error).message}`;
  }
  return new AppError(message, 400);
}
