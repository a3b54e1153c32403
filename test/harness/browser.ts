/**
 * Debian's Chromium driven by playwright-core (no browser download), a recorder of every
 * request, response and WebSocket frame a page exchanges, and axe checks. Without Chromium the
 * browser tests are skipped with the reason printed.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = process.env['EHR_CHROMIUM'] ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const NO_CHROMIUM_REASON = `browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set EHR_CHROMIUM; .ci/install-chromium.sh does it in CI)`;
export const ARTIFACTS = resolve(import.meta.dirname, '../../.artifacts');

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // playwright makes a fresh, temporary user-data-dir for every launch.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: 60_000,
  });
}

/** Everything that crossed the wire for the contexts it watches, as text. */
export class WireLog {
  readonly items: { what: string; text: string }[] = [];
  private pending: Promise<unknown>[] = [];

  watch(ctx: BrowserContext): void {
    ctx.on('request', (r) => {
      this.items.push({
        what: `${r.method()} ${r.url()}`,
        text: `${r.url()}\n${r.postData() ?? ''}`,
      });
    });
    ctx.on('response', (r) => {
      if (r.request().method() !== 'POST') return;
      this.pending.push(
        r.text().then(
          (t) => this.items.push({ what: `response ${r.url()}`, text: t }),
          () => {},
        ),
      );
    });
    ctx.on('page', (p) => this.watchPage(p));
  }

  watchPage(page: Page): void {
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => this.items.push({ what: 'ws sent', text: String(f.payload) }));
      ws.on('framereceived', (f) =>
        this.items.push({ what: 'ws received', text: String(f.payload) }),
      );
    });
  }

  async settle(): Promise<void> {
    await Promise.all(this.pending);
  }

  /** Items containing any of the needles (case-insensitive for hex). */
  find(needles: string[]): { what: string; needle: string }[] {
    const out: { what: string; needle: string }[] = [];
    for (const it of this.items) {
      const lower = it.text.toLowerCase();
      for (const n of needles) {
        if (it.text.includes(n) || lower.includes(n.toLowerCase()))
          out.push({ what: it.what, needle: n });
      }
    }
    return out;
  }
}

/** The forms a secret or plaintext could take on the wire: hex, base64 (both alphabets), text. */
export function encodings(bytes: Uint8Array): string[] {
  const b = Buffer.from(bytes);
  const b64 = b.toString('base64').replace(/=+$/, '');
  return [b.toString('hex'), b64, b.toString('base64url')];
}

/** axe on the page as it is: serious and critical violations, as short strings. */
export async function axeProblems(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.nodes
          .map((n) => n.target.join(' '))
          .slice(0, 3)
          .join(', ')}`,
    );
}

export async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
