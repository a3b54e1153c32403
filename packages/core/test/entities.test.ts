/**
 * The JSON shape of an entity is derived, not copied: `JsonOf` turns bytes into hex strings at
 * any depth and keeps everything else, nulls and unions included. These are type assertions:
 * `pnpm run typecheck` fails when one does not hold.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  ConsentScope,
  HealthRecord,
  Hospital,
  JsonOf,
  Patient,
  TxStatusView,
} from '../src/index.ts';

describe('JsonOf', () => {
  it('turns bytes into hex strings and keeps the rest', () => {
    expectTypeOf<JsonOf<Hospital>['encryptionKey']>().toEqualTypeOf<string>();
    expectTypeOf<JsonOf<Hospital>['specializations']>().toEqualTypeOf<string[]>();
    expectTypeOf<JsonOf<Patient>['profileHash']>().toEqualTypeOf<string>();
    expectTypeOf<JsonOf<HealthRecord>['payloadHash']>().toEqualTypeOf<string>();
    expectTypeOf<JsonOf<HealthRecord>['hospital']>().toEqualTypeOf<string | null>();
    expectTypeOf<JsonOf<HealthRecord>['status']>().toEqualTypeOf<'pending' | 'prescribed' | null>();
    expectTypeOf<JsonOf<ConsentScope>>().toEqualTypeOf<'all' | string[]>();
    expectTypeOf<JsonOf<{ keys: Uint8Array[]; at: { key: Uint8Array | null } }>>().toEqualTypeOf<{
      keys: string[];
      at: { key: string | null };
    }>();
  });

  it('leaves byte-free shapes as they are', () => {
    // Assignable both ways (a union of intersections is rebuilt as one object per member).
    const there = (v: TxStatusView): JsonOf<TxStatusView> => v;
    const back = (v: JsonOf<TxStatusView>): TxStatusView => v;
    const s: TxStatusView = { status: 'pending', final: false, canCommitUntil: 5 };
    expect(back(there(s))).toBe(s);
  });
});
