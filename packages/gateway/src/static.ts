/**
 * The portal's built assets, served by the gateway at `/` on its own port (same origin as
 * JSON-RPC and WebSocket: no CORS). GET/HEAD only; files are read from one directory, never
 * above it. Every answer carries a strict Content-Security-Policy (no inline script, no other
 * origin); hashed files under /assets/ are cached for a year, index.html is revalidated.
 */
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

export const PORTAL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': PORTAL_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
};

const MAX_CACHED = 64;

/** A handler for GET/HEAD requests: the portal under `dir` (a 404 that says how to build it if absent). */
export function portalHandler(dir: string): (req: IncomingMessage, res: ServerResponse) => void {
  const root = normalize(dir);
  const cache = new Map<string, Buffer>();
  const read = (file: string): Buffer | null => {
    const hit = cache.get(file);
    if (hit) return hit;
    try {
      if (!statSync(file).isFile()) return null;
      const b = readFileSync(file);
      // Hashed assets never change; index.html is re-read so a rebuild shows at once.
      if (file.includes(`${sep}assets${sep}`) && cache.size < MAX_CACHED) cache.set(file, b);
      return b;
    } catch {
      return null;
    }
  };
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = '\0';
    }
    if (path === '/' || path === '/index.html') path = '/index.html';
    const file = normalize(join(root, path));
    const inside = file.startsWith(root + sep) && !path.includes('\0');
    const body = inside ? read(file) : null;
    if (!body) {
      const missing = path === '/index.html';
      res
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS })
        .end(
          missing
            ? `The portal is not built on this node. Build it with: npx pnpm --filter @ehr/web build (looked in ${root}). JSON-RPC is served here over POST.\n`
            : 'Not found\n',
        );
      return;
    }
    const hashed = path.startsWith('/assets/');
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': hashed ? 'public, max-age=31536000, immutable' : 'no-cache',
      ...SECURITY_HEADERS,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
