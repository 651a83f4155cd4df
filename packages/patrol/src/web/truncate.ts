// Bounds what Patrol echoes back: error texts quote user input (a query, a label, a config
// value), and a 24 MB request must not become a 23 MB response or log line.

/** The longest error text an API response or log line carries by default. */
export const MAX_ECHO = 4096;

/**
 * `text` cut to at most about `max` characters, with a note of how much was left out. Cuts
 * between UTF-16 surrogates are avoided so the result is well-formed.
 */
export function truncate(text: string, max = MAX_ECHO): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max);
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${text.slice(0, end)}… (${text.length - end} more characters)`;
}
