// The `status_pages:` section: public, read-only status pages for end users (served at
// /status/<slug>, data at /api/patrol/v1/status-pages/<slug>). Each page lists groups of probes,
// named or chosen by label matchers (`{team="web"}`); nothing of a probe but its name, state,
// daily uptime and state changes is shown there.

import { z } from 'zod';
import { parseMatchers } from '../model/matchers.js';

export const STATUS_SLUG = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A group's entry: a probe name, or label matchers in braces (`{team="web", tier!="dev"}`). */
const probeRef = z
  .string()
  .min(1)
  .superRefine((s, ctx) => {
    if (!s.trim().startsWith('{')) return;
    try {
      if (parseMatchers(s).length === 0) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} has no matcher: write e.g. {team="web"}` });
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)}: ${(e as Error).message}` });
    }
  });

const statusGroup = z.strictObject({
  name: z.string().min(1).max(200),
  probes: z.array(probeRef).min(1),
});

export const statusPage = z.strictObject({
  /** The page's address: /status/<slug>. */
  slug: z.string().regex(STATUS_SLUG, 'is not a slug (lower-case letters, digits, - and _, at most 64, starting with a letter or digit)'),
  title: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  groups: z.array(statusGroup).min(1),
});

export const statusPagesSection = z.array(statusPage);

export type StatusPageConfig = z.output<typeof statusPage>;

export function isMatcherRef(ref: string): boolean {
  return ref.trim().startsWith('{');
}

/** What a page shows: per group, the probe names, each probe once (its first group). */
export interface ResolvedStatusPage {
  slug: string;
  title: string;
  description: string;
  groups: { name: string; probes: string[] }[];
}

/**
 * Resolves a page's groups against the configured probes: names as written, matchers against a
 * probe's labels plus `probe` (its name) and `type`, in configuration order.
 */
export function resolveStatusPage(page: StatusPageConfig, probes: readonly { name: string; type: string; labels: Record<string, string> }[]): ResolvedStatusPage {
  const seen = new Set<string>();
  const byName = new Set(probes.map((p) => p.name));
  const groups = page.groups.map((g) => {
    const names: string[] = [];
    const add = (n: string) => {
      if (seen.has(n)) return;
      seen.add(n);
      names.push(n);
    };
    for (const ref of g.probes) {
      if (!isMatcherRef(ref)) {
        if (byName.has(ref)) add(ref);
        continue;
      }
      const ms = parseMatchers(ref);
      for (const p of probes) {
        const ls: Record<string, string> = { ...p.labels, probe: p.name, type: p.type };
        if (ms.every((m) => m.matches(ls[m.name] ?? ''))) add(p.name);
      }
    }
    return { name: g.name, probes: names };
  });
  return { slug: page.slug, title: page.title, description: page.description ?? '', groups };
}
