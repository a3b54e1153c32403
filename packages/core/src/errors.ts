/**
 * Coded errors shared by every package. The `code` is stable and machine-readable; `data` carries
 * the typed details a caller needs to act on it. Only the gateway maps codes to JSON-RPC numbers.
 */
export type ErrorData = Record<string, unknown>;

export class EhrError<D extends ErrorData = ErrorData> extends Error {
  readonly code: string;
  readonly data: D;

  constructor(code: string, message: string, data: D = {} as D, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EhrError';
    this.code = code;
    this.data = data;
  }

  toJSON(): { code: string; message: string; data: D } {
    return { code: this.code, message: this.message, data: this.data };
  }
}

export function isEhrError(err: unknown, code?: string): err is EhrError {
  return err instanceof EhrError && (code === undefined || err.code === code);
}

/** Asserts a condition, throwing a coded error when it does not hold. */
export function ensure(
  condition: unknown,
  code: string,
  message: string,
  data?: ErrorData,
): asserts condition {
  if (!condition) throw new EhrError(code, message, data);
}
