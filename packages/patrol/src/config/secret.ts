// Secrets: passwords, tokens and webhook URLs that carry keys. A Secret never prints its value:
// String(), JSON, util.inspect and pino all see `<secret>`. Only `reveal()` gives it, and only
// the code that sends it on the wire should call it.

import { inspect } from 'node:util';

export const SECRET_MASK = '<secret>';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  isEmpty(): boolean {
    return this.#value === '';
  }

  toString(): string {
    return SECRET_MASK;
  }

  toJSON(): string {
    return SECRET_MASK;
  }

  [inspect.custom](): string {
    return SECRET_MASK;
  }
}

/**
 * Expands `${NAME}` references from the environment. Unset variables are an error so that a
 * missing token fails at load time rather than at the first alert. `$${` escapes a literal `${`.
 */
export function expandEnv(text: string, env: NodeJS.ProcessEnv = process.env): { value: string; missing: string[] } {
  const missing: string[] = [];
  const value = text.replace(/\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole: string, name: string | undefined) => {
    if (whole === '$${') return '${';
    const v = env[name!];
    if (v === undefined) {
      missing.push(name!);
      return '';
    }
    return v;
  });
  return { value, missing };
}
