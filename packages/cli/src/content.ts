/** Report and document content from the command line: text, or a file with its media type. */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { type Content, contentSummary } from '@ehr/api';
import { usage } from './errors.ts';

const MEDIA: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.dcm': 'application/dicom',
  '.txt': 'text/plain',
  '.md': 'text/markdown',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.csv': 'text/csv',
  '.html': 'text/html',
};

export function mediaTypeOf(file: string): string {
  return MEDIA[extname(file).toLowerCase()] ?? 'application/octet-stream';
}

export function fileContent(file: string): Content {
  let data: Uint8Array;
  try {
    data = new Uint8Array(readFileSync(file));
  } catch (err) {
    throw usage(`cannot read ${file}: ${(err as Error).message}`);
  }
  return { type: 'file', name: basename(file), mediaType: mediaTypeOf(file), data };
}

/** Exactly one of --text and --file. */
export function contentArg(o: { text?: string; file?: string }): Content {
  if (o.text !== undefined && o.file !== undefined) throw usage('give --text or --file, not both');
  if (o.file !== undefined) return fileContent(o.file);
  if (o.text !== undefined) {
    if (o.text.trim() === '') throw usage('--text is empty');
    return { type: 'text', text: o.text };
  }
  throw usage('say what to submit: --text "<what happened>" or --file <path>');
}

/** Content as JSON: text and JSON as is; file bytes as base64 (or where they were saved). */
export function contentJson(c: Content, savedTo?: string): Record<string, unknown> {
  switch (c.type) {
    case 'text':
      return { type: 'text', text: c.text };
    case 'json':
      return { type: 'json', value: c.value };
    case 'file':
      return {
        type: 'file',
        name: c.name,
        mediaType: c.mediaType,
        size: c.data.length,
        ...(savedTo ? { savedTo } : { base64: Buffer.from(c.data).toString('base64') }),
      };
    case 'bytes':
      return {
        type: 'bytes',
        size: c.data.length,
        ...(savedTo ? { savedTo } : { base64: Buffer.from(c.data).toString('base64') }),
      };
  }
}

/** Writes a file's bytes to `out` (never overwriting); returns the path. */
export function saveContent(c: Content, out: string): string {
  if (c.type === 'text' || c.type === 'json') {
    writeFileSync(out, c.type === 'text' ? c.text : `${JSON.stringify(c.value, null, 2)}\n`, {
      flag: 'wx',
    });
  } else {
    writeFileSync(out, c.data, { flag: 'wx' });
  }
  return out;
}

/** Human rendering: text in full, files summarised with a hint to save them. */
export function contentText(c: Content, savedTo?: string): string {
  if (c.type === 'text') return c.text;
  if (c.type === 'json') return JSON.stringify(c.value, null, 2);
  return `${contentSummary(c)}${savedTo ? `, saved to ${savedTo}` : ' (save it with --out <file>)'}`;
}
