/** Wording helpers for rejection messages. */

/** "a" or "an" before a word. */
export const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

/** A hex id shortened for a message (12 characters and an ellipsis). */
export const short = (hex: string): string => `${hex.slice(0, 12)}…`;
