/**
 * The state interface the rules read and write through (contract between @ehr/ledger and
 * @ehr/store). Keys are namespaced strings (`hospital/<id>`, `record/<id>`, index keys such as
 * `idx/patient-records/<patient>/<record>`); values are canonical Values. Reads are async because
 * the store reads LevelDB; writes are buffered by the caller and never touch disk here, so the
 * rules stay pure: same state + same block => same writes, on every node.
 */
import type { Value } from '@ehr/core';

export interface StateReader {
  get(key: string): Promise<Value | undefined>;
}

export interface State extends StateReader {
  set(key: string, value: Value): void;
  delete(key: string): void;
}

/** One write: a value, or null for a deletion. Write sets are ordered by key. */
export type WriteSet = [key: string, value: Value | null][];
