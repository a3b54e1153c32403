/**
 * The portal's browser bundle: built from a fresh checkout by the test itself, no `node:`
 * import anywhere in it (core and api resolve to their browser entries), within a size budget
 * (gzip), and an index.html with no inline script (the gateway's CSP forbids it).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DIST_INDEX, ensurePortalBuilt, WEB_DIR } from '../scripts/portal-build.ts';

/** gzip bytes of all JavaScript the portal loads. */
const JS_BUDGET = 250 * 1024;

describe('the portal bundle', () => {
  it('builds, has no node: import, and stays within the size budget', () => {
    ensurePortalBuilt();
    const assets = join(WEB_DIR, 'dist/assets');
    const files = readdirSync(assets);
    const js = files.filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    let raw = 0;
    let gz = 0;
    for (const f of js) {
      const text = readFileSync(join(assets, f), 'utf8');
      expect(text, f).not.toMatch(/["'`]node:[a-z_/]+["'`]/);
      expect(text, f).not.toMatch(/\brequire\s*\(/);
      // Every asset name carries a content hash (the gateway caches /assets/ for a year).
      expect(f).toMatch(/-[A-Za-z0-9_-]{8,}\.js$/);
      raw += Buffer.byteLength(text);
      gz += gzipSync(text, { level: 9 }).length;
    }
    console.log(
      `portal JS: ${js.length} file(s), ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzip (budget ${JS_BUDGET / 1024} KiB gzip)`,
    );
    expect(gz).toBeLessThanOrEqual(JS_BUDGET);
    const html = readFileSync(DIST_INDEX, 'utf8');
    // Scripts only by src; no inline script or style, no event-handler attributes.
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)) {
      expect(m[1]).toMatch(/\bsrc="\/assets\//);
      expect(m[2]!.trim()).toBe('');
    }
    expect(html).not.toMatch(/<style\b|\son[a-z]+=/i);
  });
});
