import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GATEWAY_README, withMethods } from '../../../scripts/api-doc.ts';

describe('gateway README', () => {
  it('lists exactly the methods of the catalogue (run scripts/api-doc.ts after changing it)', () => {
    const text = readFileSync(GATEWAY_README, 'utf8');
    expect(text).toBe(withMethods(text));
  });
});
