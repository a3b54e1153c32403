/**
 * Reading a Bundle from another system into a plan of records to submit, before anything is
 * submitted. Pure. What the ledger can keep (inline attachments of DocumentReference and
 * DiagnosticReport, Observation and DiagnosticReport as text reports, MedicationRequest as a text
 * document) becomes an item; what it cannot is listed as skipped, resource by resource. Input
 * that is broken (not JSON, not a Bundle, a resource or field of the wrong type, an attachment
 * whose data is not base64, does not match its size or hash, or is over the chain's limit) is
 * refused as a whole, with every problem listed, so nothing is half imported.
 */
import { type Content, encodeContent } from '@ehr/api';
import { EhrError, fromUtf8 } from '@ehr/core';
import { contentHash, sha1Base64, TEXT_TYPE } from './attachment.ts';
import { base64Length, fromBase64 } from './base64.ts';
import { specialtySlug } from './specialty.ts';
import { SYSTEM } from './uris.ts';

/** Sealing adds about 70 bytes to the encoded content; keep a margin. */
export const SEAL_MARGIN = 256;
/** Deeper JSON than this is not a FHIR resource anyone wrote by hand or by a server. */
export const MAX_DEPTH = 100;

export interface ImportLimits {
  /** Largest sealed body of a report (the chain's limits.maxPayloadBytes). */
  reportBytes: number;
  /** Largest sealed body of a document (limits.maxDocumentBytes). */
  documentBytes: number;
}

export interface ImportItem {
  /** Index in Bundle.entry. */
  entry: number;
  /** `Type/id` (or `Type#entry` without an id), with `[n]` for the n-th attachment. */
  resource: string;
  /** What the resource asks to be: a report (to a hospital) or a document. */
  as: 'report' | 'document';
  content: Content;
  /** contentHash of the content: duplicates have the same. */
  hash: string;
  /** Bundle-local names of this item (fullUrl, Type/id), for documents that append to it. */
  names: string[];
  /** A report of this bundle this document belongs to (one of its names). */
  attachTo?: string;
  /** Where the resource itself says it belongs (this project's identifiers or known codes). */
  hospital?: string;
  specialization?: string;
  /** The clinical date the resource gives, if any (ISO). */
  date?: string;
}

export interface Skipped {
  entry: number;
  resource: string;
  reason: string;
}

export interface ImportPlan {
  items: ImportItem[];
  skipped: Skipped[];
}

export interface Problem {
  entry: number | null;
  resource?: string;
  message: string;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const NOT_RECORDS: Record<string, string> = {
  Patient: 'the patient is you: your profile is not changed by an import',
  Practitioner: 'doctors are registered by an admin, not imported',
  PractitionerRole: 'doctors are registered by an admin, not imported',
  Organization: 'hospitals are registered by an admin, not imported',
  Consent: 'consents are given with `ehr patient share`, not imported',
  AuditEvent: 'the audit trail is written by the nodes, not imported',
  Provenance: 'provenance is on chain, not imported',
  Device: 'not a health record',
  Location: 'not a health record',
  Encounter: 'encounters are not kept as records (their documents are)',
};

/** Walks the parsed JSON without recursion: depth and shape only. */
function deepestLevel(root: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (d > MAX_DEPTH) return d;
    if (Array.isArray(v)) for (const x of v) stack.push([x, d + 1]);
    else if (isObj(v)) for (const x of Object.values(v)) stack.push([x, d + 1]);
  }
  return max;
}

function concept(v: unknown): string | undefined {
  if (!isObj(v)) return undefined;
  if (typeof v['text'] === 'string' && v['text'].trim()) return v['text'];
  const codings = Array.isArray(v['coding']) ? v['coding'] : [];
  for (const c of codings) {
    if (!isObj(c)) continue;
    if (typeof c['display'] === 'string') return c['display'];
    if (typeof c['code'] === 'string') return c['code'];
  }
  return undefined;
}

function quantity(v: unknown): string | undefined {
  if (!isObj(v) || typeof v['value'] !== 'number') return undefined;
  const unit =
    typeof v['unit'] === 'string' ? v['unit'] : typeof v['code'] === 'string' ? v['code'] : '';
  return `${v['comparator'] ?? ''}${v['value']}${unit ? ` ${unit}` : ''}`;
}

/** An Observation's or component's value[x] as text. */
function valueText(o: Json): string | undefined {
  if (typeof o['valueString'] === 'string') return o['valueString'];
  const q = quantity(o['valueQuantity']);
  if (q) return q;
  const c = concept(o['valueCodeableConcept']);
  if (c) return c;
  if (typeof o['valueBoolean'] === 'boolean') return o['valueBoolean'] ? 'yes' : 'no';
  if (typeof o['valueInteger'] === 'number') return String(o['valueInteger']);
  if (typeof o['valueDateTime'] === 'string') return o['valueDateTime'];
  if (isObj(o['valueRange'])) {
    const lo = quantity(o['valueRange']['low']);
    const hi = quantity(o['valueRange']['high']);
    return `${lo ?? '?'} to ${hi ?? '?'}`;
  }
  return undefined;
}

function notes(v: unknown): string[] {
  return Array.isArray(v)
    ? v.flatMap((n) => (isObj(n) && typeof n['text'] === 'string' ? [n['text']] : []))
    : [];
}

function effective(r: Json): string | undefined {
  for (const k of ['effectiveDateTime', 'issued', 'authoredOn', 'date']) {
    if (typeof r[k] === 'string') return r[k] as string;
  }
  if (isObj(r['effectivePeriod']) && typeof r['effectivePeriod']['start'] === 'string') {
    return r['effectivePeriod']['start'] as string;
  }
  return undefined;
}

function idOf(r: Json, type: string, entry: number): string {
  return typeof r['id'] === 'string' ? `${type}/${r['id']}` : `${type}#${entry}`;
}

function identifierValue(r: Json, system: string): string | undefined {
  const ids = Array.isArray(r['identifier'])
    ? r['identifier']
    : isObj(r['identifier'])
      ? [r['identifier']]
      : [];
  for (const i of ids) {
    if (isObj(i) && i['system'] === system && typeof i['value'] === 'string') return i['value'];
  }
  return undefined;
}

const ours = (r: Json): boolean => identifierValue(r, SYSTEM.tx) !== undefined;

class Planner {
  readonly items: ImportItem[] = [];
  readonly skipped: Skipped[] = [];
  readonly problems: Problem[] = [];
  readonly limits: ImportLimits;
  /** Resources of the bundle by fullUrl and by Type/id, to follow references. */
  readonly byName = new Map<string, Json>();
  constructor(limits: ImportLimits) {
    this.limits = limits;
  }

  /** A hospital id of this project a reference names: by identifier, or the Organization it points to. */
  hospitalOf(ref: unknown): string | undefined {
    if (!isObj(ref)) return undefined;
    const direct = isObj(ref['identifier']) ? ref['identifier'] : undefined;
    if (direct?.['system'] === SYSTEM.hospital && typeof direct['value'] === 'string')
      return direct['value'];
    const target =
      typeof ref['reference'] === 'string' ? this.byName.get(ref['reference']) : undefined;
    return target?.['resourceType'] === 'Organization'
      ? identifierValue(target, SYSTEM.hospital)
      : undefined;
  }

  problem(entry: number, resource: string, message: string): void {
    this.problems.push({ entry, resource, message });
  }

  /** The content of an inline attachment, or why not (a problem, or a skip for url-only). */
  attachment(
    entry: number,
    resource: string,
    a: unknown,
    where: string,
  ): Content | 'skip' | undefined {
    if (!isObj(a)) {
      this.problem(entry, resource, `${where} is ${typeof a}, expected an Attachment object`);
      return undefined;
    }
    for (const k of ['contentType', 'data', 'title', 'hash', 'url'] as const) {
      if (a[k] !== undefined && typeof a[k] !== 'string') {
        this.problem(entry, resource, `${where}.${k} is ${typeof a[k]}, expected a string`);
        return undefined;
      }
    }
    if (
      a['size'] !== undefined &&
      (typeof a['size'] !== 'number' || !Number.isSafeInteger(a['size']) || a['size'] < 0)
    ) {
      this.problem(
        entry,
        resource,
        `${where}.size is ${JSON.stringify(a['size'])}, expected a whole number`,
      );
      return undefined;
    }
    if (typeof a['data'] !== 'string') return 'skip';
    const declared = base64Length(a['data']);
    if (declared + SEAL_MARGIN > this.limits.documentBytes) {
      this.problem(
        entry,
        resource,
        `${where} is ${mb(declared)}; this chain takes documents up to ${mb(this.limits.documentBytes - SEAL_MARGIN)} (limits.maxDocumentBytes)`,
      );
      return undefined;
    }
    const data = fromBase64(a['data']);
    if (!data) {
      this.problem(entry, resource, `${where}.data is not base64`);
      return undefined;
    }
    if (typeof a['size'] === 'number' && a['size'] !== data.length) {
      this.problem(
        entry,
        resource,
        `${where}.size says ${a['size']} bytes but the data holds ${data.length}`,
      );
      return undefined;
    }
    if (typeof a['hash'] === 'string' && a['hash'] !== sha1Base64(data)) {
      this.problem(
        entry,
        resource,
        `${where}.hash is not the SHA-1 of its data: the data is damaged`,
      );
      return undefined;
    }
    const contentType =
      typeof a['contentType'] === 'string' && a['contentType']
        ? a['contentType']
        : 'application/octet-stream';
    const title = typeof a['title'] === 'string' && a['title'] ? a['title'] : undefined;
    if (title === undefined && /^text\/plain\s*(;|$)/i.test(contentType)) {
      try {
        return { type: 'text', text: fromUtf8(data) };
      } catch {
        // not UTF-8: keep the bytes as a file
      }
    }
    const ext = contentType === TEXT_TYPE || contentType.startsWith('text/plain') ? 'txt' : 'bin';
    return { type: 'file', name: title ?? `attachment.${ext}`, mediaType: contentType, data };
  }

  add(item: Omit<ImportItem, 'hash'>): void {
    const size = encodeContent(item.content).length + SEAL_MARGIN;
    if (size > this.limits.documentBytes) {
      this.problem(
        item.entry,
        item.resource,
        `its content is ${mb(size)}; this chain takes documents up to ${mb(this.limits.documentBytes)} (limits.maxDocumentBytes)`,
      );
      return;
    }
    this.items.push({ ...item, hash: contentHash(item.content) });
  }

  documentReference(entry: number, r: Json, names: string[]): void {
    const resource = idOf(r, 'DocumentReference', entry);
    if (r['status'] === 'entered-in-error') {
      this.skipped.push({ entry, resource, reason: 'status entered-in-error' });
      return;
    }
    if (!Array.isArray(r['content'])) {
      this.problem(
        entry,
        resource,
        `content is ${r['content'] === undefined ? 'missing' : typeof r['content']}, expected a list of attachments (DocumentReference.content is required)`,
      );
      return;
    }
    const kind =
      isObj(r['type']) && Array.isArray(r['type']['coding'])
        ? (r['type']['coding'] as unknown[]).find(
            (c) => isObj(c) && c['system'] === SYSTEM.recordKind,
          )
        : undefined;
    const asReport = isObj(kind) && kind['code'] === 'report';
    const relates = Array.isArray(r['relatesTo']) ? r['relatesTo'] : [];
    let attachTo: string | undefined;
    for (const x of relates) {
      if (
        isObj(x) &&
        (x['code'] === 'appends' || x['code'] === 'transforms') &&
        isObj(x['target']) &&
        typeof x['target']['reference'] === 'string'
      ) {
        attachTo = x['target']['reference'];
      }
    }
    const hospital = this.hospitalOf(r['custodian']);
    const context = isObj(r['context']) ? r['context'] : undefined;
    const specialization = specialtySlug(
      context && isObj(context['practiceSetting'])
        ? (context['practiceSetting'] as never)
        : undefined,
    );
    const date = typeof r['date'] === 'string' ? r['date'] : undefined;
    (r['content'] as unknown[]).forEach((c, i) => {
      const where = `content[${i}].attachment`;
      const label = (r['content'] as unknown[]).length > 1 ? `${resource}[${i}]` : resource;
      if (!isObj(c)) {
        this.problem(entry, resource, `content[${i}] is ${typeof c}, expected an object`);
        return;
      }
      const content = this.attachment(entry, resource, c['attachment'], where);
      if (content === undefined) return;
      if (content === 'skip') {
        this.skipped.push({
          entry,
          resource: label,
          reason: `${where} has no inline data (only a url the client cannot fetch)`,
        });
        return;
      }
      this.add({
        entry,
        resource: label,
        as: asReport && i === 0 ? 'report' : 'document',
        content,
        names: i === 0 ? names : [],
        ...(attachTo ? { attachTo } : asReport && i > 0 ? { attachTo: names[0]! } : {}),
        ...(hospital ? { hospital } : {}),
        ...(specialization ? { specialization } : {}),
        ...(date ? { date } : {}),
      });
    });
  }

  observation(entry: number, r: Json, names: string[]): void {
    const resource = idOf(r, 'Observation', entry);
    if (r['status'] === 'entered-in-error' || r['status'] === 'cancelled') {
      this.skipped.push({ entry, resource, reason: `status ${r['status']}` });
      return;
    }
    const what = concept(r['code']) ?? 'observation';
    const lines = [
      `${what}: ${valueText(r) ?? (concept(r['dataAbsentReason']) ? `no value (${concept(r['dataAbsentReason'])})` : 'no value')}`,
    ];
    for (const c of Array.isArray(r['component']) ? r['component'] : []) {
      if (isObj(c))
        lines.push(`${concept(c['code']) ?? 'component'}: ${valueText(c) ?? 'no value'}`);
    }
    const interp = Array.isArray(r['interpretation'])
      ? r['interpretation'].map(concept).filter(Boolean)
      : [];
    if (interp.length) lines.push(`interpretation: ${interp.join(', ')}`);
    const date = effective(r);
    if (date) lines.push(`date: ${date}`);
    lines.push(...notes(r['note']));
    this.add({
      entry,
      resource,
      as: 'report',
      content: { type: 'text', text: lines.join('\n') },
      names,
      ...(date ? { date } : {}),
    });
  }

  diagnosticReport(entry: number, r: Json, names: string[]): void {
    const resource = idOf(r, 'DiagnosticReport', entry);
    if (r['status'] === 'entered-in-error' || r['status'] === 'cancelled') {
      this.skipped.push({ entry, resource, reason: `status ${r['status']}` });
      return;
    }
    if (r['presentedForm'] !== undefined && !Array.isArray(r['presentedForm'])) {
      this.problem(
        entry,
        resource,
        `presentedForm is ${typeof r['presentedForm']}, expected a list of attachments`,
      );
      return;
    }
    const lines = [concept(r['code']) ?? 'diagnostic report'];
    const date = effective(r);
    if (date) lines.push(`date: ${date}`);
    if (typeof r['conclusion'] === 'string') lines.push(`conclusion: ${r['conclusion']}`);
    const codes = Array.isArray(r['conclusionCode'])
      ? r['conclusionCode'].map(concept).filter(Boolean)
      : [];
    if (codes.length) lines.push(`findings: ${codes.join(', ')}`);
    for (const x of Array.isArray(r['result']) ? r['result'] : []) {
      if (isObj(x) && typeof x['display'] === 'string') lines.push(`result: ${x['display']}`);
    }
    this.add({
      entry,
      resource,
      as: 'report',
      content: { type: 'text', text: lines.join('\n') },
      names,
      ...(date ? { date } : {}),
    });
    ((r['presentedForm'] as unknown[] | undefined) ?? []).forEach((a, i) => {
      const content = this.attachment(entry, resource, a, `presentedForm[${i}]`);
      if (content === undefined) return;
      if (content === 'skip') {
        this.skipped.push({
          entry,
          resource: `${resource}[${i}]`,
          reason: `presentedForm[${i}] has no inline data`,
        });
        return;
      }
      this.add({
        entry,
        resource: `${resource}[${i}]`,
        as: 'document',
        content,
        names: [],
        attachTo: names[0]!,
      });
    });
  }

  medicationRequest(entry: number, r: Json, names: string[]): void {
    const resource = idOf(r, 'MedicationRequest', entry);
    if (r['status'] === 'entered-in-error') {
      this.skipped.push({ entry, resource, reason: 'status entered-in-error' });
      return;
    }
    const noteTexts = notes(r['note']);
    let text: string;
    if (ours(r) && noteTexts.length > 0) {
      // Our own export: the prescription text is the note, verbatim.
      text = noteTexts.join('\n');
    } else {
      let med = concept(r['medicationCodeableConcept']);
      const mref = isObj(r['medicationReference']) ? r['medicationReference'] : undefined;
      if (!med && mref) {
        const ref = typeof mref['reference'] === 'string' ? mref['reference'] : '';
        const contained = Array.isArray(r['contained']) ? r['contained'] : [];
        const hit = contained.find((c) => isObj(c) && `#${c['id']}` === ref);
        med =
          (isObj(hit) ? concept(hit['code']) : undefined) ??
          (typeof mref['display'] === 'string' ? mref['display'] : undefined);
      }
      const lines = [`medication: ${med ?? 'not named'}`];
      for (const d of Array.isArray(r['dosageInstruction']) ? r['dosageInstruction'] : []) {
        if (isObj(d) && typeof d['text'] === 'string') lines.push(`dosage: ${d['text']}`);
      }
      if (typeof r['authoredOn'] === 'string') lines.push(`prescribed: ${r['authoredOn']}`);
      if (isObj(r['requester']) && typeof r['requester']['display'] === 'string')
        lines.push(`by: ${r['requester']['display']}`);
      lines.push(...noteTexts);
      text = lines.join('\n');
    }
    const date = typeof r['authoredOn'] === 'string' ? r['authoredOn'] : undefined;
    this.add({
      entry,
      resource,
      as: 'document',
      content: { type: 'text', text },
      names,
      ...(date ? { date } : {}),
    });
  }
}

const mb = (n: number): string =>
  n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${n} bytes`;

function invalid(message: string, problems: Problem[] = []): EhrError {
  return new EhrError('FHIR_INVALID', message, { problems });
}

/** Parses and checks a whole Bundle; throws FHIR_INVALID (with every problem) or returns the plan. */
export function planImport(input: string | unknown, limits: ImportLimits): ImportPlan {
  let bundle: unknown = input;
  if (typeof input === 'string') {
    try {
      bundle = JSON.parse(input);
    } catch (err) {
      throw invalid(`not JSON: ${(err as Error).message}`);
    }
  }
  if (!isObj(bundle)) {
    throw invalid(
      `expected a FHIR Bundle (a JSON object with "resourceType": "Bundle"), got ${Array.isArray(bundle) ? 'an array' : typeof bundle}`,
    );
  }
  if (bundle['resourceType'] !== 'Bundle') {
    throw invalid(
      `expected a FHIR Bundle, got ${typeof bundle['resourceType'] === 'string' ? `a ${bundle['resourceType']}` : 'an object without a resourceType'}: wrap resources in a Bundle (type "collection")`,
    );
  }
  const depth = deepestLevel(bundle);
  if (depth > MAX_DEPTH) throw invalid(`the bundle is nested deeper than ${MAX_DEPTH} levels`);
  const entries = bundle['entry'] ?? [];
  if (!Array.isArray(entries)) throw invalid(`Bundle.entry is ${typeof entries}, expected a list`);
  const p = new Planner(limits);
  entries.forEach((e) => {
    if (!isObj(e) || !isObj(e['resource']) || typeof e['resource']['resourceType'] !== 'string')
      return;
    const r = e['resource'];
    if (typeof e['fullUrl'] === 'string') p.byName.set(e['fullUrl'], r);
    if (typeof r['id'] === 'string') p.byName.set(`${r['resourceType']}/${r['id']}`, r);
  });
  entries.forEach((e, i) => {
    if (!isObj(e)) {
      p.problems.push({
        entry: i,
        message: `it is ${Array.isArray(e) ? 'an array' : typeof e}, expected an object`,
      });
      return;
    }
    const r = e['resource'];
    if (r === undefined) {
      p.skipped.push({
        entry: i,
        resource: `entry#${i}`,
        reason: 'no resource (a request or response only)',
      });
      return;
    }
    if (!isObj(r) || typeof r['resourceType'] !== 'string') {
      p.problems.push({
        entry: i,
        message: `its resource is ${isObj(r) ? 'an object without a resourceType' : Array.isArray(r) ? 'an array' : typeof r}, expected a FHIR resource`,
      });
      return;
    }
    const type = r['resourceType'];
    if (r['id'] !== undefined && typeof r['id'] !== 'string') {
      p.problem(i, `${type}#${i}`, `id is ${typeof r['id']}, expected a string`);
      return;
    }
    const names = [idOf(r, type, i), ...(typeof e['fullUrl'] === 'string' ? [e['fullUrl']] : [])];
    switch (type) {
      case 'DocumentReference':
        p.documentReference(i, r, names);
        return;
      case 'Observation':
        p.observation(i, r, names);
        return;
      case 'DiagnosticReport':
        p.diagnosticReport(i, r, names);
        return;
      case 'MedicationRequest':
        p.medicationRequest(i, r, names);
        return;
      default:
        p.skipped.push({
          entry: i,
          resource: idOf(r, type, i),
          reason: NOT_RECORDS[type] ?? `not understood: ${type} resources are not imported`,
        });
    }
  });
  if (p.problems.length > 0) {
    const first = p.problems
      .slice(0, 5)
      .map((x) => `entry ${x.entry}${x.resource ? ` (${x.resource})` : ''}: ${x.message}`);
    throw invalid(
      `the bundle cannot be imported (${p.problems.length} problem${p.problems.length === 1 ? '' : 's'}; nothing was submitted): ${first.join('; ')}${p.problems.length > 5 ? '; …' : ''}`,
      p.problems,
    );
  }
  return { items: p.items, skipped: p.skipped };
}
