/** Reading zod's schema definitions, for the config tools that walk the schema (suggest, show). */

export type ZodDef = {
  type?: string;
  shape?: Record<string, unknown>;
  element?: unknown;
  innerType?: unknown;
  in?: unknown;
  out?: unknown;
  options?: unknown[];
  discriminator?: string;
  valueType?: unknown;
  values?: unknown[];
  getter?: () => unknown;
};

export function defOf(s: unknown): ZodDef | undefined {
  return (s as { _zod?: { def?: ZodDef } } | undefined)?._zod?.def;
}

/** Definition types that only wrap `innerType` (the value's shape is the inner schema's). */
export const WRAPPER_TYPES: ReadonlySet<string> = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch']);
