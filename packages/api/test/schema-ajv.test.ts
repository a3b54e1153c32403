/**
 * The validator is ajv over the very objects `rpc.discover` publishes: every params and result
 * schema compiles in strict mode, misfits are named by field and reason, hostile strings (12 M
 * characters) are checked in linear time, and the browser entry leaves ajv out (the portal's CSP
 * forbids the `new Function` its compile uses).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { toBase64, toHex } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { METHODS, openRpcDocument, paramsSchema } from '../src/methods.ts';
import { RESULTS } from '../src/results.ts';
import { check, type Schema, validatorOf } from '../src/schema.ts';

const spec = (name: string) => METHODS.find((m) => m.name === name)!;
const submit = paramsSchema(spec('tx_submit'));

describe('ajv over the published schemas', () => {
  it('compiles every params and result schema in strict mode, the same objects rpc.discover serves', () => {
    const doc = openRpcDocument('test') as {
      methods: { name: string; result: { schema: unknown } }[];
    };
    for (const m of METHODS) {
      expect(() => validatorOf(paramsSchema(m)), m.name).not.toThrow();
      expect(paramsSchema(m), m.name).toBe(paramsSchema(m)); // compiled once, cached
      const result = RESULTS[m.name];
      expect(result, m.name).toBeDefined();
      expect(() => validatorOf(result!), m.name).not.toThrow();
      expect(doc.methods.find((d) => d.name === m.name)!.result.schema, m.name).toBe(result);
    }
  });

  it('names the field and why: wrong type, out of range, not in the list, missing, unknown', () => {
    const list = paramsSchema(spec('hospital_list'));
    expect(check(list, { limit: 'ten' }, 'params')).toBe(
      'params.limit: expected an integer from 1 to 1000, got "ten"',
    );
    expect(check(list, { limit: 0 }, 'params')).toBe(
      'params.limit: expected an integer from 1 to 1000, got 0',
    );
    expect(check(list, { limit: 2.5 }, 'params')).toMatch(/^params.limit: expected an integer/);
    expect(check(list, { limit: 1e308 }, 'params')).toMatch(/^params.limit: expected an integer/);
    expect(check(list, [], 'params')).toBe('params: expected an object, got []');
    expect(check(submit, { tx: 'ab', mode: 'now' }, 'params')).toBe(
      'params.mode: expected one of "async", "sync", "commit", got "now"',
    );
    expect(check(submit, { payloads: [] }, 'params')).toBe(
      'params.tx: required (lowercase hex (an even number of 0-9a-f))',
    );
    expect(check(submit, { tx: 'ab', bodies: Array(65).fill('') }, 'params')).toMatch(
      /^params.bodies: expected a list of at most 64 items, got \["",/,
    );
    expect(check(submit, { tx: 'ab', colour: 'blue' }, 'params')).toBe(
      'params.colour: unknown field; expected one of tx, bodies, payloads, mode, timeoutMs',
    );
    const signed = paramsSchema(spec('record_get'));
    const auth = {
      reader: 'ab'.repeat(32),
      node: 'ab'.repeat(32),
      time: 1,
      nonce: '00'.repeat(16),
      signature: 'A'.repeat(128),
    };
    expect(check(signed, { id: 'ab'.repeat(32), auth }, 'params')).toMatch(
      /^params.auth.signature: expected a string/,
    );
  });

  it('results: one of several shapes names the closest misfit, or the union when none is close', () => {
    expect(check(RESULTS['status']!, null, 'result')).toBe('result: expected an object, got null');
    const maybe: Schema = { anyOf: [RESULTS['hospital_get']!, { type: 'null' }] };
    expect(check(maybe, null, 'result')).toBeNull();
    expect(check(maybe, 'x', 'result')).toBe('result: expected an object or null, got "x"');
    expect(check(maybe, { id: 'x' }, 'result')).toMatch(/^result.name: required/);
    expect(check(RESULTS['hospital_get']!, { id: 'x' }, 'result')).toMatch(
      /^result.name: required/,
    );
  });

  it('a 12 M character body is checked in linear time, valid or damaged at its very end', () => {
    const hex = 'ab'.repeat(6 * 1024 * 1024); // 12 M characters, 6 MiB
    const b64 = toBase64(new Uint8Array(9 * 1024 * 1024)); // 12 M characters
    expect(b64.length).toBe(12 * 1024 * 1024);
    const t0 = performance.now();
    expect(check(submit, { tx: '00', payloads: [hex], bodies: [b64] }, 'params')).toBeNull();
    expect(check(submit, { tx: '00', payloads: [`${hex.slice(0, -1)}G`] }, 'params')).toBe(
      'params.payloads[0]: expected lowercase hex (an even number of 0-9a-f), got "abababababababababababababababababab...',
    );
    expect(check(submit, { tx: '00', bodies: [`${b64.slice(0, -1)}!`] }, 'params')).toMatch(
      /^params.bodies\[0\]: expected standard base64/,
    );
    // The length limit answers with the length, not megabytes of the value.
    expect(check(submit, { tx: hex }, 'params')).toBe(
      `params.tx: expected at most 2097152 characters (lowercase hex (an even number of 0-9a-f)), got ${hex.length}`,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    // And a 12 M character value where a 64-character hash belongs.
    expect(check(paramsSchema(spec('chain_getTx')), { hash: hex }, 'params')).toMatch(
      /^params.hash: expected 64 lowercase hex characters, got "abab/,
    );
    expect(toHex(new Uint8Array([1]))).toBe('01');
  });

  it('a schema built anywhere is compiled once and cached by identity', () => {
    const sc: Schema = { type: 'string', maxLength: 3 };
    expect(validatorOf(sc)).toBe(validatorOf(sc));
    expect(check(sc, 'abcd', 'x')).toBe(
      'x: expected at most 3 characters (a string..3 characters), got 4',
    );
  });
});

describe('the browser entry', () => {
  const packages = join(import.meta.dirname, '../..');
  const src = join(packages, 'api/src');
  /** Every file a browser build reaches from `entry`, following @ehr/* by their browser entries. */
  const graph = (entry: string) => {
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import) '([^']+)'/g)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
        else if (spec.startsWith('@ehr/')) {
          const dir = join(packages, spec.slice('@ehr/'.length));
          const exp = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).exports['.'];
          visit(join(dir, typeof exp === 'string' ? exp : (exp.browser ?? exp.default)));
        } else bare.add(spec);
      }
    };
    visit(entry);
    return { seen, bare };
  };
  const inSrc = (files: Set<string>) =>
    new Set([...files].filter((f) => f.startsWith(src)).map((f) => f.slice(src.length + 1)));

  it('reaches neither ajv nor any node: module; the Node entry exports the same plus the validator', () => {
    const browser = graph(join(src, 'browser.ts'));
    expect(inSrc(browser.seen).has('schema.ts')).toBe(false);
    expect([...browser.bare].filter((b) => b === 'ajv' || b.startsWith('node:'))).toEqual([]);
    const node = graph(join(src, 'index.ts'));
    expect(node.bare.has('ajv')).toBe(true);
    const exported = (f: string) =>
      [...readFileSync(join(src, f), 'utf8').matchAll(/^export \* from '\.\/(.+)';$/gm)].map(
        (m) => m[1],
      );
    // One list of modules: the Node entry is the browser entry plus the validator.
    expect(exported('index.ts')).toEqual(['browser.ts', 'schema.ts']);
    expect(exported('browser.ts')).toContain('schema-shape.ts');
  });

  it("the portal's whole graph (web, api, core by their browser entries) reaches no node: module and no ajv", () => {
    const portal = graph(join(packages, 'web/src/main.tsx'));
    const files = [...portal.seen].map((f) => f.slice(packages.length + 1));
    expect(files).toContain('api/src/browser.ts');
    expect(files).toContain('core/src/browser.ts');
    expect(files).toContain('core/src/keyfile.ts'); // pure: bytes in, bytes out
    for (const nodeOnly of ['core/src/keyfile-fs.ts', 'core/src/index.ts', 'api/src/schema.ts'])
      expect(files).not.toContain(nodeOnly);
    expect([...portal.bare].filter((b) => b === 'ajv' || b.startsWith('node:'))).toEqual([]);
    expect(portal.bare.has('preact')).toBe(true); // the walk does see the bare imports
  });
});
