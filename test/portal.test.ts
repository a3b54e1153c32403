/**
 * The portal in real Chromium against a real network of three daemons: the paper's three-role
 * story through the browser only (admin adds a hospital and two doctors, a patient signs up and
 * sends a report with a PDF, the right doctor opens it, the other specialty does not see it, the
 * patient shares, the doctor prescribes, the patient sees it live, revokes, the doctor is
 * refused, the audit trail lists the reads), bad form input, keys across CLI and browser, and
 * what crosses the wire: no secret key and no plaintext, ever; IndexedDB holds no clear secret.
 * axe finds no serious or critical violation on any page. Screenshots go to .artifacts/.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EhrClient } from '@ehr/api';
import { generateKeyPair, loadKeyFile, saveKeyFile, toHex } from '@ehr/core';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePortalBuilt } from '../scripts/portal-build.ts';
import {
  axeProblems,
  encodings,
  HAVE_CHROMIUM,
  launch,
  NO_CHROMIUM_REASON,
  shoot,
  WireLog,
} from './harness/browser.ts';
import { TestCluster, until } from './harness/cluster.ts';

if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM_REASON);

const REPORT_TEXT = `Chest pain after climbing stairs, since ${Date.now()} (portal-e2e-report)`;
const RX_TEXT = 'Aspirin 100 mg once a day; portal-e2e-prescription';
const PDF_MARKER = `EHR-PDF-MARKER-${Math.random().toString(36).slice(2)}`;
const PDF = Buffer.from(
  `%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% ${PDF_MARKER}\n${'x'.repeat(20_000)}\ntrailer << /Root 1 0 R >>\n%%EOF\n`,
);

let cluster: TestCluster;
let browser: Browser;
let dir: string;
const wire = new WireLog();
const contexts: BrowserContext[] = [];
const a11y: Record<string, string[]> = {};

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  ensurePortalBuilt();
  dir = mkdtempSync(join(tmpdir(), 'ehr-portal-'));
  cluster = await TestCluster.create({ validators: 3 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
  browser = await launch();
}, 120_000);

afterAll(async () => {
  // The last state of every page, for a failure's post-mortem.
  for (const [i, ctx] of contexts.entries()) {
    for (const page of ctx.pages()) await shoot(page, `last-${i}`).catch(() => {});
  }
  await browser?.close();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function newPage(node: string): Promise<{ page: Page; base: string }> {
  const ctx = await browser.newContext({
    acceptDownloads: true,
    viewport: { width: 1280, height: 900 },
  });
  contexts.push(ctx);
  wire.watch(ctx);
  const page = await ctx.newPage();
  wire.watchPage(page);
  page.setDefaultTimeout(30_000);
  return { page, base: cluster.node(node).gatewayUrl };
}

const section = (page: Page, heading: string): Locator =>
  page
    .locator('form, section, .card')
    .filter({ has: page.getByRole('heading', { name: heading, exact: true }) })
    .last();

/** axe at 1280 px, then screenshots at 1280 and 390 px. */
async function check(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(150);
  a11y[name] = await axeProblems(page);
  await shoot(page, `${name}-1280`);
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot(page, `${name}-390`);
  // No horizontal scrolling at phone width.
  const overflow = (await page.evaluate(
    'document.documentElement.scrollWidth - window.innerWidth',
  )) as number;
  expect(overflow, `${name} overflows at 390 px`).toBeLessThanOrEqual(1);
  await page.setViewportSize({ width: 1280, height: 900 });
}

async function save(page: Page, click: () => Promise<void>, file: string): Promise<string> {
  const [dl] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = join(dir, file);
  await dl.saveAs(path);
  return path;
}

async function createKey(page: Page, label: string, pass: string): Promise<void> {
  const f = section(page, 'Create a new key');
  await f.getByLabel('Name for this key').fill(label);
  await f.getByLabel('Passphrase', { exact: true }).fill(pass);
  await f.getByLabel('Passphrase again').fill(pass);
  await f.getByRole('button', { name: 'Create key' }).click();
  await page.getByRole('region', { name: 'Back up your new key' }).waitFor();
}

async function height(): Promise<number> {
  return (await cluster.client('node1').status()).height;
}

/** A refused form must leave the chain as it was (no block for at least a few ticks). */
async function unchanged(before: number): Promise<void> {
  await new Promise((r) => setTimeout(r, 600));
  expect(await height()).toBe(before);
}

const alert = (scope: Locator) => scope.getByRole('alert');

/** Polls until the matcher holds (30 s unless said): UI updates come with blocks. */
function eventually<T>(fn: () => Promise<T>, opts: { timeout?: number } = {}) {
  return expect.poll(fn, { timeout: opts.timeout ?? 30_000, interval: 200 });
}

describe.skipIf(!HAVE_CHROMIUM)('the portal in Chromium, against three daemons', () => {
  let reportId = '';
  let cityKeyFile = '';
  let aliceBackup = '';
  let heartBackup = '';

  it('runs the three-role story through the browser', async () => {
    // ---- admin, on node1: a CLI key file (plain, development) imported and encrypted here.
    const admin = await newPage('node1');
    await admin.page.goto(`${admin.base}#/`);
    await admin.page.getByRole('link', { name: /Admin/ }).first().click();
    await admin.page.getByRole('heading', { name: 'Sign in as admin' }).waitFor();
    await check(admin.page, 'signin');
    const imp = section(admin.page, 'Import a key file');
    await imp.getByLabel('Key file').setInputFiles(cluster.plan.adminKey);
    await imp.getByLabel('New passphrase (only for an unprotected file)').fill('admin-pass-123');
    await imp.getByRole('button', { name: 'Import and sign in' }).click();
    await admin.page.getByRole('heading', { name: 'Add a hospital' }).waitFor();

    // Bad input: an empty name changes nothing.
    const addH = section(admin.page, 'Add a hospital');
    let h0 = await height();
    await addH.getByLabel('Hospital id').fill('city-general');
    await addH.getByLabel('Specializations').fill('cardiology, dermatology');
    await addH.getByLabel("Passphrase for the hospital's encryption key").fill('hospital-pass-1');
    await addH.getByLabel('Passphrase again').fill('hospital-pass-1');
    await addH.getByRole('button', { name: 'Add hospital' }).click();
    await eventually(() => alert(addH).textContent()).toContain('Hospital name');
    await unchanged(h0);
    await addH.getByLabel('Name', { exact: true }).fill('City General');
    await addH.getByLabel('Address').fill('1 Main Street');
    await addH.getByLabel('Contact').fill('+1 555 0100');
    await addH.getByRole('button', { name: 'Add hospital' }).click();
    cityKeyFile = await save(
      admin.page,
      () => addH.getByRole('button', { name: /Download the hospital's encryption key/ }).click(),
      'city.enc.json',
    );
    expect(JSON.parse(readFileSync(cityKeyFile, 'utf8')).secret.type).toBe('scrypt');

    // ---- two doctors make their keys in their own browsers (node3 and node1).
    const heart = await newPage('node3');
    await heart.page.goto(`${heart.base}#/doctor`);
    await createKey(heart.page, 'Dr Heart', 'heart-pass-1');
    heartBackup = await save(
      heart.page,
      () => heart.page.getByRole('button', { name: 'Download backup' }).click(),
      'heart.key.json',
    );
    const heartKey = (await heart.page.locator('#my-key').textContent())!.trim();
    const skin = await newPage('node1');
    await skin.page.goto(`${skin.base}#/doctor`);
    await createKey(skin.page, 'Dr Skin', 'skin-pass-1');
    const skinKey = (await skin.page.locator('#my-key').textContent())!.trim();
    expect(heartKey).toMatch(/^[0-9a-f]{64}$/);

    // Admin registers them; an unknown specialization is refused and changes nothing.
    const addD = section(admin.page, 'Add a doctor');
    await addD.getByLabel("Doctor's public key").fill(heartKey);
    await addD.getByLabel('Name', { exact: true }).fill('Heart');
    await addD.getByLabel('Specialization').fill('oncology');
    h0 = await height();
    await addD.getByRole('button', { name: 'Add doctor' }).click();
    await eventually(() => alert(addD).textContent()).toContain('is not one of them');
    await unchanged(h0);
    await addD.getByLabel('Specialization').fill('cardiology');
    await addD.getByLabel('Qualification').fill('MD');
    await addD.getByRole('button', { name: 'Add doctor' }).click();
    await addD.getByText('Dr. Heart (cardiology) registered').waitFor();
    await addD.getByLabel("Doctor's public key").fill(skinKey);
    await addD.getByLabel('Name', { exact: true }).fill('Skin');
    await addD.getByLabel('Specialization').fill('dermatology');
    await addD.getByRole('button', { name: 'Add doctor' }).click();
    await addD.getByText('Dr. Skin (dermatology) registered').waitFor();
    await check(admin.page, 'admin');

    // Doctors: registered now; load the hospital key (a wrong passphrase is refused first).
    for (const d of [heart, skin]) {
      await d.page.getByRole('button', { name: 'Check again' }).click();
      await d.page.getByRole('heading', { name: 'Hospital encryption key' }).waitFor();
    }
    const hk = section(heart.page, 'Hospital encryption key');
    await hk.getByLabel('Hospital key file').setInputFiles(cityKeyFile);
    await hk.getByLabel('Its passphrase').fill('not-the-passphrase');
    await hk.getByRole('button', { name: 'Load hospital key' }).click();
    await eventually(() => alert(hk).textContent()).toContain('does not open this key');
    await hk.getByLabel('Its passphrase').fill('hospital-pass-1');
    await hk.getByRole('button', { name: 'Load hospital key' }).click();
    await hk.getByText(/loaded for this session/).waitFor();
    // Dr Skin loads a wrong key (the admin's development key file): caught before any read.
    const sk = section(skin.page, 'Hospital encryption key');
    await sk.getByLabel('Hospital key file').setInputFiles(cluster.plan.adminKey);
    await sk.getByRole('button', { name: 'Load hospital key' }).click();
    await sk.getByText(/loaded for this session/).waitFor();

    // ---- patient, on node2: a key made in the browser, sign-up, a report with a PDF.
    const alice = await newPage('node2');
    await alice.page.goto(`${alice.base}#/patient`);
    await createKey(alice.page, 'Alice', 'alice-pass-1');
    aliceBackup = await save(
      alice.page,
      () => alice.page.getByRole('button', { name: 'Download backup' }).click(),
      'alice.key.json',
    );
    const signUp = section(alice.page, 'Sign up as a patient');
    await signUp.getByRole('button', { name: 'Sign up' }).click();
    await eventually(() => alert(signUp).textContent()).toContain('Name: enter your name');
    await signUp.getByLabel('Your name').fill('Alice');
    await signUp.getByRole('button', { name: 'Sign up' }).click();
    const report = section(alice.page, 'Submit a report');
    await report.waitFor();
    await report.getByLabel('Specialization').selectOption('cardiology');
    await report.getByLabel('What is the problem?').fill(REPORT_TEXT);
    // Oversize first: refused before anything is sent.
    await report.getByLabel(/Attachments/).setInputFiles({
      name: 'scan.pdf',
      mimeType: 'application/pdf',
      buffer: Buffer.alloc(9 * 1024 * 1024, 7),
    });
    await report.getByText('too large').waitFor();
    h0 = await height();
    await report.getByRole('button', { name: 'Send report' }).click();
    await eventually(() => alert(report).textContent()).toContain('FILE_TOO_LARGE');
    await unchanged(h0);
    await report.getByRole('button', { name: 'Remove scan.pdf' }).click();
    await report
      .getByLabel(/Attachments/)
      .setInputFiles({ name: 'receipt.pdf', mimeType: 'application/pdf', buffer: PDF });
    await report.getByRole('button', { name: 'Send report' }).click();
    await report
      .getByText(/Report sent to City General \(cardiology\) with 1 attachment/)
      .waitFor({ timeout: 60_000 });
    const mine = alice.page.locator('li.report').first();
    await eventually(() => mine.textContent()).toContain('Pending');
    reportId = (await mine.getAttribute('data-report'))!;
    expect(reportId).toMatch(/^[0-9a-f]{64}$/);
    await check(alice.page, 'patient');

    // ---- the cardiologist sees it pending (live) and opens it with a purpose.
    const item = heart.page.locator(`li.report[data-report="${reportId}"]`);
    await item.waitFor({ timeout: 30_000 });
    expect(await item.textContent()).toContain('Pending');
    await item.getByLabel('Purpose of this read').selectOption('ETREAT');
    await item.getByRole('button', { name: 'Open report' }).click();
    await eventually(() => item.locator('.report-text').textContent()).toBe(REPORT_TEXT);
    const pdfPath = await save(
      heart.page,
      () => item.getByRole('button', { name: /Download receipt\.pdf/ }).click(),
      'receipt-opened.pdf',
    );
    expect(readFileSync(pdfPath).equals(PDF)).toBe(true);
    await check(heart.page, 'doctor');

    // ---- the dermatologist does not see it; with the wrong hospital key nothing is read.
    await section(skin.page, 'Reports I may read')
      .getByText('No report is waiting for you')
      .waitFor();
    const byId = section(skin.page, 'Open a record by its id');
    await byId.getByLabel('Record id').fill(reportId);
    await byId.getByRole('button', { name: 'Open record' }).click();
    await eventually(() => alert(byId).textContent()).toContain('SEAL_WRONG_KEY');

    // ---- the patient shares; the doctor prescribes; the patient sees it without reload.
    await alice.page.getByRole('button', { name: 'Share with City General' }).click();
    await alice.page.getByText(/Shared \d+ record key\(s\) with City General/).waitFor();
    await item.getByLabel('Prescription').fill(RX_TEXT);
    await item.getByRole('button', { name: 'Give prescription' }).click();
    await item.getByText('Prescription written').waitFor();
    await expect
      .poll(() => mine.textContent(), { timeout: 30_000 })
      .toContain('Prescribed by Dr. Heart');
    expect(await mine.textContent()).toContain(RX_TEXT);

    // The patient opens her own attachment: the same bytes come back.
    const own = await save(
      alice.page,
      () => mine.getByRole('button', { name: 'Download attachment 1' }).click(),
      'receipt-own.pdf',
    );
    expect(readFileSync(own).equals(PDF)).toBe(true);

    // ---- the patient revokes; the doctor is refused from then on.
    await alice.page.getByRole('button', { name: 'Revoke City General' }).click();
    await alice.page.getByText('City General can no longer open your records').waitFor();
    const heartById = section(heart.page, 'Open a record by its id');
    await heartById.getByLabel('Record id').fill(reportId);
    await heartById.getByRole('button', { name: 'Open record' }).click();
    await eventually(() => alert(heartById).count(), { timeout: 15_000 }).toBe(1);
    expect(await heartById.locator('.report-text').count()).toBe(0);
    expect(await alert(heartById).textContent()).toMatch(
      /Code for support: (CONSENT_REVOKED|CONSENT_MISSING|UNAUTHORIZED)/,
    );

    // ---- the audit trail lists the reads (report and attachment), by Dr Heart, why.
    const audit = section(alice.page, 'Who read my records');
    await expect
      .poll(
        () => audit.locator('tr.audit-row').filter({ hasText: 'emergency treatment' }).count(),
        {
          timeout: 30_000,
        },
      )
      .toBeGreaterThanOrEqual(2);
    expect(
      await audit
        .locator('tr.audit-row')
        .filter({ hasText: 'emergency treatment' })
        .first()
        .textContent(),
    ).toContain('Heart');
    await check(alice.page, 'patient-prescribed');

    // ---- sign out forgets the key; a wrong passphrase is refused; the right one unlocks.
    await alice.page.getByRole('button', { name: 'Sign out' }).click();
    const unlock = section(alice.page, 'Unlock a key kept in this browser');
    await unlock.getByLabel('Passphrase', { exact: true }).fill('wrong-passphrase');
    await unlock.getByRole('button', { name: 'Unlock and sign in' }).click();
    await eventually(() => alert(unlock).textContent()).toContain('KEYFILE_BAD_PASSPHRASE');
    await unlock.getByLabel('Passphrase', { exact: true }).fill('alice-pass-1');
    await unlock.getByRole('button', { name: 'Unlock and sign in' }).click();
    await eventually(() => mine.textContent()).toContain('Prescribed by Dr. Heart');

    // ---- the chain page verifies the chain here, and shows tamper detection.
    await admin.page.goto(`${admin.base}#/chain`);
    const newest = admin.page.getByRole('button', { name: /^Block \d+$/ }).first();
    await newest.waitFor();
    await admin.page.getByRole('button', { name: 'Verify the chain' }).click();
    await admin.page
      .getByText(/^All \d+ blocks and \d+ transactions verified/)
      .waitFor({ timeout: 60_000 });
    await newest.click();
    await admin.page.getByText(/^Transactions of block \d+$/).waitFor();
    await check(admin.page, 'chain');
    await admin.page.getByRole('button', { name: 'Show tamper detection' }).click();
    await admin.page.getByText(/Tampering detected/).waitFor({ timeout: 60_000 });
    await admin.page.goto(`${admin.base}#/network`);
    await admin.page.getByRole('heading', { name: 'Members' }).waitFor();
    await admin.page.locator('#node-height').waitFor();
    await check(admin.page, 'network');
    await admin.page.goto(`${admin.base}#/`);
    await check(admin.page, 'home');

    expect(Object.keys(a11y).length).toBe(8);
    for (const [page, problems] of Object.entries(a11y)) {
      expect(problems, `${page}: ${problems.join('; ')}`).toEqual([]);
    }
  }, 360_000);

  it('a key made in the browser works in the CLI, and a CLI key file works in the browser', async () => {
    expect(aliceBackup).not.toBe('');
    // Browser -> CLI: the backup opens with the CLI's loader and reads alice's report.
    const alice = loadKeyFile(aliceBackup, 'alice-pass-1');
    const reports = await new EhrClient(
      cluster.node('node1').gatewayUrl,
      alice.secretKey,
    ).patient.reports();
    expect(reports.map((r) => r.id)).toEqual([reportId]);
    // CLI -> browser: an encrypted key file made by the CLI's writer (default scrypt) unlocks.
    const pair = generateKeyPair();
    const cliFile = join(dir, 'bob.key.json');
    saveKeyFile(cliFile, pair, { passphrase: 'bob-pass-123', label: 'Bob' });
    const { page, base } = await newPage('node2');
    // Keyboard only: Tab to the Patient card on the home page, Enter, focus lands on the page.
    await page.goto(`${base}#/`);
    let reached = false;
    for (let i = 0; i < 20 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate(
        "document.activeElement?.classList.contains('role') && document.activeElement.textContent.startsWith('Patient')",
      )) as boolean;
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Sign in as patient' }).waitFor();
    await eventually(() => page.evaluate('document.activeElement?.tagName')).toBe('H1');
    const imp = section(page, 'Import a key file');
    await imp.getByLabel('Key file').setInputFiles(cliFile);
    await imp.getByLabel('Passphrase of the file').fill('bob-pass-123');
    await imp.getByRole('button', { name: 'Import and sign in' }).click();
    await page.getByRole('heading', { name: 'Sign up as a patient' }).waitFor();
    expect(await page.locator('#my-public-key').getAttribute('title')).toBe(toHex(pair.publicKey));
  }, 120_000);

  it('no secret key and no plaintext crossed the wire; IndexedDB holds only encrypted keys', async () => {
    expect(heartBackup).not.toBe('');
    await wire.settle();
    expect(wire.items.length).toBeGreaterThan(50);
    expect(wire.items.some((i) => i.what.startsWith('ws '))).toBe(true);
    const secrets = [
      loadKeyFile(cluster.plan.adminKey).secretKey,
      loadKeyFile(aliceBackup, 'alice-pass-1').secretKey,
      loadKeyFile(heartBackup, 'heart-pass-1').secretKey,
      loadKeyFile(cityKeyFile, 'hospital-pass-1').secretKey,
    ];
    const utf8 = (s: string) => new TextEncoder().encode(s);
    const needles = [
      ...secrets.flatMap(encodings),
      REPORT_TEXT,
      RX_TEXT,
      PDF_MARKER,
      ...encodings(utf8(REPORT_TEXT)),
      ...encodings(utf8(RX_TEXT)),
      Buffer.from(PDF_MARKER).toString('hex'),
      ...encodings(PDF.subarray(0, 48)),
    ];
    expect(wire.find(needles)).toEqual([]);
    // IndexedDB: every stored key is an encrypted key file; no secret in any form.
    for (const ctx of contexts) {
      const page = ctx.pages()[0]!;
      const dump = (await page.evaluate(`new Promise((resolve, reject) => {
        const req = indexedDB.open('ehr-portal');
        req.onsuccess = () => {
          const db = req.result;
          if (!db.objectStoreNames.contains('keys')) return resolve('[]');
          const all = db.transaction('keys').objectStore('keys').getAll();
          all.onsuccess = () => resolve(JSON.stringify(all.result));
          all.onerror = () => reject(all.error);
        };
        req.onerror = () => reject(req.error);
      })`)) as string;
      const stored = JSON.parse(dump) as { keyFile: string }[];
      for (const k of stored) expect(JSON.parse(k.keyFile).secret.type).toBe('scrypt');
      for (const s of secrets)
        for (const e of encodings(s)) expect(dump.toLowerCase()).not.toContain(e.toLowerCase());
    }
  }, 60_000);
});
