import { isEhrError } from '@ehr/core';

/** What a call throws, as its error code ('ok' when it returns). */
export const code = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return isEhrError(err) ? err.code : String(err);
  }
};
