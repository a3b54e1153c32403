/**
 * A sealed body's content as a FHIR Attachment and back. Text travels as UTF-8 text/plain with no
 * title; a file keeps its name as the title and its media type; `size` and `hash` (SHA-1 of the
 * data, base64, as FHIR defines Attachment.hash) let a reader check the bytes.
 */
import type { Content } from '@ehr/api';
import { sha256, toHex, utf8 } from '@ehr/core';
import type { Attachment } from '@medplum/fhirtypes';
import { sha1 } from '@noble/hashes/legacy.js';
import { toBase64 } from './base64.ts';

export const TEXT_TYPE = 'text/plain; charset=utf-8';

/** The bytes a content stands for, with its media type and file name. */
export function contentBytes(c: Content): {
  data: Uint8Array;
  contentType: string;
  title?: string;
} {
  switch (c.type) {
    case 'text':
      return { data: utf8(c.text), contentType: TEXT_TYPE };
    case 'file':
      return { data: c.data, contentType: c.mediaType, title: c.name };
    case 'json':
      return { data: utf8(JSON.stringify(c.value)), contentType: 'application/json' };
    case 'bytes':
      return { data: c.data, contentType: 'application/octet-stream' };
  }
}

/**
 * What makes two contents the same for duplicate detection: SHA-256 (hex) of the kind and the
 * bytes (a text and a file with the same bytes are different records; the file name is not part
 * of it).
 */
export function contentHash(c: Content): string {
  const { data } = contentBytes(c);
  const kind = utf8(c.type === 'text' ? 'text\n' : 'data\n');
  const both = new Uint8Array(kind.length + data.length);
  both.set(kind);
  both.set(data, kind.length);
  return toHex(sha256(both));
}

export function toAttachment(c: Content, created?: number): Attachment {
  const { data, contentType, title } = contentBytes(c);
  return {
    contentType,
    data: toBase64(data),
    size: data.length,
    hash: toBase64(sha1(data)),
    ...(title !== undefined ? { title } : {}),
    ...(created !== undefined ? { creation: new Date(created).toISOString() } : {}),
  };
}

export const sha1Base64 = (data: Uint8Array): string => toBase64(sha1(data));
