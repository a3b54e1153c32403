/**
 * Import on the client: a plan (import-plan.ts) is resolved against the chain (which hospital a
 * report goes to, what the patient already holds) and only then submitted, one sealed record at
 * a time, reports before the documents that append to them.
 */
import type { EhrClient } from '@ehr/api';
import { encodeContent } from '@ehr/api';
import { EhrError } from '@ehr/core';
import { contentHash } from './attachment.ts';
import {
  type ImportItem,
  type ImportLimits,
  type ImportPlan,
  planImport,
  SEAL_MARGIN,
  type Skipped,
} from './import-plan.ts';

export interface ImportOptions {
  limits: ImportLimits;
  /** Reports that name no hospital of this chain go here (with `specialization`). */
  hospital?: string;
  specialization?: string;
  onProgress?: (done: number, total: number, item: ImportItem) => void;
}

export interface Imported {
  entry: number;
  resource: string;
  as: 'report' | 'document';
  /** The transaction (the new record's id). */
  id: string;
  hospital?: string;
  report?: string;
  note?: string;
}

export interface ImportResult {
  imported: Imported[];
  /** Not understood, not a record, or a duplicate: resource by resource, with why. */
  skipped: Skipped[];
}

interface Resolved extends ImportItem {
  target?: { hospital: string; specialization: string };
  note?: string;
}

/** Hashes of everything the patient holds (each record opened: own reads, audited as such). */
async function held(
  client: EhrClient,
): Promise<{ hashes: Map<string, string>; reports: Set<string> }> {
  const hashes = new Map<string, string>();
  const [reports, documents] = await Promise.all([
    client.patient.reports(),
    client.patient.documents(),
  ]);
  for (const r of [...reports, ...documents]) {
    const opened = await client.patient.readRecord(r.id, 'PATRQT');
    hashes.set(contentHash(opened.content), r.id);
  }
  return { hashes, reports: new Set(reports.map((r) => r.id)) };
}

export async function importBundle(
  client: EhrClient,
  input: string | unknown,
  opts: ImportOptions,
): Promise<ImportResult> {
  const plan: ImportPlan = planImport(input, opts.limits);
  const skipped = [...plan.skipped];
  // Resolve every report's hospital before anything is submitted.
  const hospitals = new Map<string, string[] | null>();
  const offers = async (id: string): Promise<string[] | null> => {
    if (!hospitals.has(id)) {
      const h = await client.directory.hospital(id).catch(() => null);
      hospitals.set(id, h?.active ? h.specializations : null);
    }
    return hospitals.get(id)!;
  };
  if (opts.hospital !== undefined) {
    const s = await offers(opts.hospital);
    if (!s)
      throw new EhrError(
        'UNKNOWN_HOSPITAL',
        `there is no active hospital "${opts.hospital}" (see: ehr patient hospitals)`,
        { hospital: opts.hospital },
      );
    if (opts.specialization === undefined || !s.includes(opts.specialization)) {
      throw new EhrError(
        'SPECIALIZATION_MISMATCH',
        `give --specialization, one of what ${opts.hospital} offers: ${s.join(', ')}`,
        { hospital: opts.hospital },
      );
    }
  }
  const resolved: Resolved[] = [];
  const problems: string[] = [];
  for (const it of plan.items) {
    const r: Resolved = { ...it };
    if (it.as === 'report') {
      const own =
        it.hospital &&
        it.specialization &&
        (await offers(it.hospital))?.includes(it.specialization);
      if (opts.hospital && opts.specialization)
        r.target = { hospital: opts.hospital, specialization: opts.specialization };
      else if (own) r.target = { hospital: it.hospital!, specialization: it.specialization! };
      else {
        r.as = 'document';
        r.note =
          'kept as a document: no hospital of this chain to submit the report to (give --hospital and --specialization)';
      }
      if (r.target && encodeContent(it.content).length + SEAL_MARGIN > opts.limits.reportBytes) {
        problems.push(
          `entry ${it.entry} (${it.resource}): a report may be at most ${opts.limits.reportBytes} bytes sealed (limits.maxPayloadBytes); it is ${encodeContent(it.content).length}`,
        );
      }
    }
    resolved.push(r);
  }
  if (problems.length > 0) {
    throw new EhrError(
      'FHIR_INVALID',
      `the bundle cannot be imported (nothing was submitted): ${problems.join('; ')}`,
      { problems },
    );
  }
  const mine =
    resolved.length > 0
      ? await held(client)
      : { hashes: new Map<string, string>(), reports: new Set<string>() };
  const seen = new Map<string, ImportItem>();
  // Bundle-local names -> record id on chain (new or already held).
  const ids = new Map<string, string>();
  const todo: Resolved[] = [];
  for (const r of resolved) {
    const heldId = mine.hashes.get(r.hash);
    const first = seen.get(r.hash);
    if (heldId) {
      for (const n of r.names) ids.set(n, heldId);
      skipped.push({
        entry: r.entry,
        resource: r.resource,
        reason: `duplicate: you already hold it (record ${heldId})`,
      });
    } else if (first) {
      skipped.push({
        entry: r.entry,
        resource: r.resource,
        reason: `duplicate of ${first.resource} (entry ${first.entry}) in this bundle`,
      });
      for (const n of r.names) ids.set(n, `=${first.names[0] ?? ''}`);
    } else {
      seen.set(r.hash, r);
      todo.push(r);
    }
  }
  // Reports first, so the documents that append to them know their id.
  todo.sort((a, b) => (a.target ? 0 : 1) - (b.target ? 0 : 1));
  const imported: Imported[] = [];
  const lookup = (name: string | undefined): string | undefined => {
    let v = name === undefined ? undefined : ids.get(name);
    for (let i = 0; i < 4 && v?.startsWith('='); i++) v = ids.get(v.slice(1));
    return v?.startsWith('=') ? undefined : v;
  };
  let done = 0;
  for (const r of todo) {
    if (r.target) {
      const tx = await client.patient.submitReport({ content: r.content, ...r.target });
      for (const n of r.names) ids.set(n, tx.hash);
      imported.push({
        entry: r.entry,
        resource: r.resource,
        as: 'report',
        id: tx.hash,
        hospital: r.target.hospital,
      });
    } else {
      // Only reports can carry documents: a target that was kept as a document is not one.
      const report = lookup(r.attachTo);
      const attach =
        report !== undefined &&
        (mine.reports.has(report) || imported.some((x) => x.id === report && x.as === 'report'))
          ? report
          : undefined;
      const tx = await client.patient.attachDocument({
        content: r.content,
        ...(attach ? { report: attach } : {}),
      });
      for (const n of r.names) ids.set(n, tx.hash);
      imported.push({
        entry: r.entry,
        resource: r.resource,
        as: 'document',
        id: tx.hash,
        ...(attach ? { report: attach } : {}),
        ...(r.note
          ? { note: r.note }
          : r.attachTo && !attach
            ? { note: `its report ${r.attachTo} is not a report here: kept on its own` }
            : {}),
      });
    }
    opts.onProgress?.(++done, todo.length, r);
  }
  return { imported, skipped };
}
