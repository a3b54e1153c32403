/**
 * Paging end to end on a real daemon: 25 hospitals (one block each) paged through the typed
 * client, the CLI (`--limit`, `--cursor`, `--all`) and the portal ("Show more" on the admin's
 * hospital list and on the chain's blocks, in Chromium); hostile cursors and limits over the wire
 * get coded errors.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EhrClient, type Page, RpcError } from '@ehr/api';
import { generateKeyPair, loadKeyFile, toHex } from '@ehr/core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ehr } from '../packages/cli/test/ehr.ts';
import { ensurePortalBuilt } from '../scripts/portal-build.ts';
import { HAVE_CHROMIUM, launch } from './harness/browser.ts';
import { TestCluster, until } from './harness/cluster.ts';

const HOSPITALS = 25;
let cluster: TestCluster;
let admin: EhrClient;
let url: string;
let browser: Browser | undefined;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ehr-paging-'));
  cluster = await TestCluster.create({ validators: 1 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
  url = cluster.node('node1').gatewayUrl;
  admin = new EhrClient(url, loadKeyFile(cluster.plan.adminKey).secretKey);
  // One at a time, each waiting for its commit: one block each.
  for (let i = 0; i < HOSPITALS; i++) {
    const out = await admin.admin.addHospital({
      id: `h-${String(i).padStart(2, '0')}`,
      name: `Hospital ${i}`,
      specializations: ['cardiology'],
      encryptionKey: toHex(generateKeyPair().publicKey),
    });
    expect(out.status).toBe('committed');
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const code = (e: unknown) =>
  e instanceof RpcError
    ? `${e.code} ${(e.data as { code?: string } | undefined)?.code}`
    : String(e);

describe('paging end to end', () => {
  it('the client pages through every list, cursor to cursor, in a stable order', async () => {
    const all = await admin.directory.hospitals();
    expect(all.map((h) => h.id)).toEqual(
      Array.from({ length: HOSPITALS }, (_, i) => `h-${String(i).padStart(2, '0')}`),
    );
    const paged: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const pg: Page<{ id: string }> = await admin.session.page(
        'hospital_list',
        {},
        { limit: 7, ...(cursor ? { cursor } : {}) },
      );
      expect(pg.items.length).toBeLessThanOrEqual(7);
      paged.push(...pg.items.map((h) => h.id));
      cursor = pg.cursor;
      pages++;
    } while (cursor);
    expect(paged).toEqual(all.map((h) => h.id));
    expect(pages).toBe(4);
    // Blocks, newest first: every height once, down to 1.
    const blocks = await admin.session.all<{ height: number }>('chain_blocks', {});
    const head = (await admin.session.call<{ height: number }>('status')).height;
    expect(blocks.map((b) => b.height)).toEqual(Array.from({ length: head }, (_, i) => head - i));
    const first = await admin.session.page<{ height: number }>('chain_blocks', {}, { limit: 3 });
    const second = await admin.session.page<{ height: number }>(
      'chain_blocks',
      {},
      {
        limit: 3,
        cursor: first.cursor!,
      },
    );
    expect([...first.items, ...second.items].map((b) => b.height)).toEqual(
      blocks.slice(0, 6).map((b) => b.height),
    );
  });

  it('hostile limits and cursors over the wire get coded errors', async () => {
    const call = (params: Record<string, unknown>) =>
      admin.session.call('hospital_list', params).then(() => 'served', code);
    for (const limit of [0, -1, 1e12, 'NaN', 1.5, 1001]) {
      expect(await call({ limit }), `limit ${limit}`).toMatch(/^-32602/);
    }
    const { cursor } = await admin.session.page('hospital_list', {}, { limit: 2 });
    for (const bad of ['x', '!!', `${cursor}zz`, 'a'.repeat(2000), 'W1siYSJdXQ']) {
      expect(await call({ cursor: bad }), `cursor ${bad.slice(0, 20)}`).toMatch(/^-32(602|060) /);
    }
    expect(await call({ cursor: 'x' })).toBe('-32060 INVALID_CURSOR');
    // A cursor of one list is refused by another.
    const blocks = await admin.session.page('chain_blocks', {}, { limit: 1 });
    expect(await call({ cursor: blocks.cursor })).toBe('-32060 INVALID_CURSOR');
    const docs = admin.session.call('doctor_list', { hospital: 'h-01', cursor });
    expect(await docs.then(() => 'served', code)).toBe('-32060 INVALID_CURSOR');
  });

  it('the CLI pages with --limit and --cursor, or takes every page with --all', async () => {
    const page1 = await ehr(['admin', 'hospital', 'list', '--rpc', url, '--limit', '10', '--json']);
    expect(page1.code).toBe(0);
    const ids1 = (JSON.parse(page1.stdout) as { id: string }[]).map((h) => h.id);
    expect(ids1).toHaveLength(10);
    const next = /--cursor (\S+)/.exec(page1.stderr)?.[1];
    expect(next, page1.stderr).toBeDefined();
    const page2 = await ehr([
      'admin',
      'hospital',
      'list',
      '--rpc',
      url,
      '--cursor',
      next!,
      '--json',
    ]);
    const ids2 = (JSON.parse(page2.stdout) as { id: string }[]).map((h) => h.id);
    expect(ids2).toHaveLength(HOSPITALS - 10);
    expect(page2.stderr).not.toMatch(/--cursor/);
    const every = await ehr(['admin', 'hospital', 'list', '--rpc', url, '--all', '--json']);
    expect((JSON.parse(every.stdout) as { id: string }[]).map((h) => h.id)).toEqual([
      ...ids1,
      ...ids2,
    ]);
    const text = await ehr(['admin', 'hospital', 'list', '--rpc', url, '--limit', '3']);
    expect(text.stdout).toMatch(/h-00/);
    expect(text.stdout).not.toMatch(/h-03/);
    for (const bad of ['0', '-1', '1000000000000', 'NaN', '2.5']) {
      const r = await ehr(['admin', 'hospital', 'list', '--rpc', url, '--limit', bad]);
      expect(r.code, `--limit ${bad}`).not.toBe(0);
      expect(r.stderr).toMatch(/--limit must be an integer from 1 to 1000/);
    }
    const garbled = await ehr(['admin', 'hospital', 'list', '--rpc', url, '--cursor', 'garbage']);
    expect(garbled.code).not.toBe(0);
    expect(garbled.stderr).toMatch(/cursor/);
  });

  it.skipIf(!HAVE_CHROMIUM)(
    'the portal shows more on request, accessibly',
    async () => {
      ensurePortalBuilt();
      browser = await launch();
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await ctx.newPage();
      page.setDefaultTimeout(30_000);
      // The chain page: ten newest blocks, then ten more per click.
      await page.goto(`${url}#/chain`);
      const latest = page.getByRole('region', { name: /Latest blocks table/ });
      await expect.poll(() => latest.getByRole('row').count(), { timeout: 30_000 }).toBe(11);
      const moreBlocks = page.getByRole('button', { name: 'Show more blocks' });
      await moreBlocks.click();
      await expect.poll(() => latest.getByRole('row').count()).toBe(21);
      await expect
        .poll(() => page.getByRole('status').filter({ hasText: 'Showing 20 blocks' }).count())
        .toBe(1);

      // The admin's hospital list: 20, then the rest, and the button goes away at the end.
      await page.getByRole('link', { name: /Admin/ }).first().click();
      await page.getByRole('heading', { name: 'Sign in as admin' }).waitFor();
      const imp = page
        .locator('form, section, .card')
        .filter({ has: page.getByRole('heading', { name: 'Import a key file', exact: true }) })
        .last();
      await imp.getByLabel('Key file').setInputFiles(cluster.plan.adminKey);
      await imp.getByLabel('New passphrase (only for an unprotected file)').fill('admin-pass-123');
      await imp.getByRole('button', { name: 'Import and sign in' }).click();
      const list = page
        .locator('section')
        .filter({ has: page.getByRole('heading', { name: 'Hospitals', exact: true }) });
      await expect.poll(() => list.locator('ul.list > li').count(), { timeout: 30_000 }).toBe(20);
      await list.getByRole('button', { name: 'Show more hospitals' }).click();
      await expect.poll(() => list.locator('ul.list > li').count()).toBe(HOSPITALS);
      await expect
        .poll(() => list.getByRole('button', { name: 'Show more hospitals' }).count())
        .toBe(0);
      expect(await list.getByRole('status').textContent()).toBe(
        `Showing ${HOSPITALS} hospitals (all)`,
      );
      await ctx.close();
    },
    120_000,
  );
});
