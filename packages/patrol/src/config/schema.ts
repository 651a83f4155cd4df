// The whole configuration file. Parsing is a pure function from a plain object to typed values
// with every default filled in (see load.ts for text → object with positions).

import { z } from 'zod';
import { agentsConfig } from './agents.js';
import { alertingConfig } from './alertmanager.js';
import { baselinesSection } from './baselines.js';
import { collectorsConfig, hostConfig } from './collectors.js';
import { queryConfig, rulePacksConfig, rulesConfig, serverConfig, storageConfig } from './patrol.js';
import { probesSection } from './probes.js';
import { isMatcherRef, statusPagesSection } from './statuspages.js';
import { nearestName } from './suggest.js';
import { globalConfig, remoteReadConfig, remoteWriteConfig, resolveScrapeDefaults, scrapeConfig, type ScrapeConfig } from './prometheus.js';

export const configSchema = z
  .strictObject({
    global: globalConfig.default(globalConfig.parse({})),
    scrape_configs: z.array(scrapeConfig).default([]),
    scrape_config_files: z.array(z.string()).default([]),
    rule_files: z.array(z.string()).default([]),
    /**
     * Files (glob patterns, relative to this file's folder) whose probes and alerting.receivers
     * are added to this file's; a name used twice is an error naming both files. The config API
     * writes its changes into config_api.dir, which these patterns must cover.
     */
    config_files: z.array(z.string()).default([]),
    /** The configuration API (/api/patrol/v1/config/...): where it writes its YAML files. */
    config_api: z.strictObject({ dir: z.string().min(1).default('patrol.d') }).default({ dir: 'patrol.d' }),
    /** Rule packs shipped with Patrol, by name (http, go, host, probes, patrol). */
    rule_packs: rulePacksConfig.default([]),
    /** How rules behave (Prometheus's --rules.* flags). */
    rules: rulesConfig.default(rulesConfig.parse({})),
    remote_write: z.array(remoteWriteConfig).default([]),
    remote_read: z.array(remoteReadConfig).default([]),
    storage: storageConfig.default(storageConfig.parse({})),
    server: serverConfig.default(serverConfig.parse({})),
    query: queryConfig.default(queryConfig.parse({})),
    probes: probesSection.default([]),
    /** Locations whose `patrol agent` runs the probes that list them (probe `locations:`). */
    agents: agentsConfig.default(agentsConfig.parse({})),
    host: hostConfig.default(hostConfig.parse({})),
    collectors: collectorsConfig.default(collectorsConfig.parse({})),
    alerting: alertingConfig.default(alertingConfig.parse({})),
    /** Dynamic baselines, turned into recording and alerting rules (src/rules/baseline.ts). */
    baselines: baselinesSection.default([]),
    /** Public status pages (/status/<slug>): groups of probes shown to end users. */
    status_pages: statusPagesSection.default([]),
    // Prometheus sections with no Patrol behaviour yet; accepted so existing files validate.
    tracing: z.record(z.string(), z.unknown()).optional(),
    runtime: z.record(z.string(), z.unknown()).optional(),
    otlp: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((c, ctx) => {
    c.probes.forEach((p, i) => {
      for (const [j, l] of p.locations.entries()) {
        if (!Object.hasOwn(c.agents.tokens, l)) ctx.addIssue({ code: 'custom', message: `location ${JSON.stringify(l)} has no agent: add it to agents.tokens`, path: ['probes', i, 'locations', j] });
      }
    });
    const probeNames = c.probes.map((p) => p.name);
    const known = new Set(probeNames);
    const slugs = new Map<string, number>();
    c.status_pages.forEach((page, i) => {
      const first = slugs.get(page.slug);
      if (first !== undefined) ctx.addIssue({ code: 'custom', message: `slug ${JSON.stringify(page.slug)} is already used by status page ${first}`, path: ['status_pages', i, 'slug'] });
      else slugs.set(page.slug, i);
      page.groups.forEach((g, j) =>
        g.probes.forEach((ref, k) => {
          if (isMatcherRef(ref) || known.has(ref)) return;
          const near = nearestName(ref, probeNames);
          ctx.addIssue({ code: 'custom', message: `no probe named ${JSON.stringify(ref)}${near ? ` (did you mean ${JSON.stringify(near)}?)` : ''}`, path: ['status_pages', i, 'groups', j, 'probes', k] });
        }),
      );
    });
  })
  // Duplicate job names are checked in semantic.ts (on the text, so they report beside schema errors).
  .transform((c) => ({
    ...c,
    scrape_configs: c.scrape_configs.map((s): ScrapeConfig => resolveScrapeDefaults(s, c.global)),
  }));

export type Config = z.output<typeof configSchema>;
