// The configuration API: probes, receivers, rule groups, status pages, child routes and local users
// created, changed and deleted over HTTP and written
// back as YAML files in the managed directory (config_api.dir, `patrol.d` beside patrol.yml),
// which patrol.yml includes through config_files. A write edits the managed file's text, checks
// the whole configuration with that text exactly as a reload would (same messages), writes it
// atomically (temporary file, then rename) and reloads. Reads come from the loaded configuration,
// so a file edited by hand shows up after a reload, and there is no second copy anywhere.

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isMap, isSeq, parseDocument, type Document } from 'yaml';
import type { Config } from '../config/schema.js';
import { matchesGlob } from '../config/glob.js';
import { INCLUDABLE, loadConfigFile, type ConfigError } from '../config/load.js';
import { formatDuration } from '../model/duration.js';
import { parseRuleFile, type RuleGroup } from '../rules/parse.js';
import { SECRET_MASK } from '../config/secret.js';
import { shownConfig } from '../config/show.js';
import { recordChange } from '../web/audit_change.js';
import { hashPassword } from '../web/auth_store.js';

export const CONFIG_API_PREFIX = '/api/patrol/v1/config';

/** The configuration in use, the file each item came from, and the rule groups running. */
interface Loaded {
  config: Config;
  origins: ReadonlyMap<string, string>;
  dir: string;
}

/** What checking a managed file's new text found: the errors, or whether the main file includes it. */
type Checked = { errors: { text: string; file: string; path: string }[] } | { includes: (name: string) => boolean };

/** A kind of item the API manages: its URL segment, its place in its managed file, how to read and check it. */
interface Kind {
  segment: string;
  /** What one item is called in messages. */
  noun: string;
  /** The field that names an item (its URL's last segment). */
  key: string;
  /** The items are a mapping by name in the file (server.auth.users), not a list. */
  map?: boolean;
  /** Turns a written item into what the file holds (a user's `password` into its hash). */
  prepare?: (item: Item) => Promise<Item> | Item;
  /** Where the list is in the managed file. */
  path: readonly string[];
  file: string;
  /** The running items as written, each with the file it came from. */
  items: (l: Loaded) => { item: Item; source: string }[];
  /** Checks the managed file's new text; `file` is its absolute path. */
  check: (l: Loaded, file: string, text: string) => Promise<Checked>;
  /** How to make the main file read the managed one. */
  includeHint: (managedDir: string) => string;
}

/** An item kind that lives in the configuration (config_files merges it in). */
function configKind(segment: string, noun: string, path: readonly string[], file: string, d: () => ConfigApiDeps, prepare?: Kind['prepare']): Kind {
  const inc = INCLUDABLE.find((i) => i.path.join('.') === path.join('.'));
  if (!inc) throw new Error(`config API kind ${segment} is not includable`);
  const key = (name: string) => `${path.join('.')}/${name}`;
  return {
    segment,
    noun,
    key: inc.key,
    ...(inc.map ? { map: true } : {}),
    ...(prepare ? { prepare } : {}),
    path,
    file,
    items: (l) => {
      let v: unknown = shownConfig(l.config);
      for (const p of path) v = isItem(v) ? v[p] : undefined;
      if (inc.map) v = isItem(v) ? Object.entries(v).map(([name, x]) => ({ [inc.key]: name, ...(isItem(x) ? x : {}) })) : [];
      // Only named items can be addressed (the root route's children in patrol.yml may have no name).
      return (Array.isArray(v) ? (v as Item[]) : []).filter((item) => typeof item[inc.key] === 'string').map((item) => ({ item, source: l.origins.get(key(String(item[inc.key]))) ?? '' }));
    },
    check: async (_l, f, text) => {
      const checked = await loadConfigFile(d().configFile!, new Map([[f, text]]));
      if (!checked.ok) return { errors: checked.errors.map((e: ConfigError) => ({ text: `${e.line}:${e.column}: ${e.path ? `${e.path}: ` : ''}${e.message}`, file: e.file, path: e.path })) };
      return { includes: (name) => resolve(checked.origins.get(key(name)) ?? '') === f };
    },
    includeHint: (dir) => `config_files: ["${dir}/*.yml"]`,
  };
}

/** Rule groups: a Prometheus rule file (`groups:`) that rule_files must name. */
function ruleGroupsKind(d: () => ConfigApiDeps): Kind {
  return {
    segment: 'rule_groups',
    noun: 'rule group',
    key: 'name',
    path: ['groups'],
    file: 'rules/groups.yml',
    items: () => (d().ruleGroups?.() ?? []).map((g) => ({ item: ruleGroupAsWritten(g), source: g.file })),
    check: async (l, f, text) => {
      const r = parseRuleFile(text, f);
      if (r.errors.length > 0) return { errors: r.errors.map((e) => ({ text: `${e.line}:${e.column}: ${e.message}`, file: e.file, path: '' })) };
      const base = dirname(d().configFile!);
      const named = l.config.rule_files.some((p) => {
        try {
          return matchesGlob(isAbsolute(p) ? p : join(base, p), f);
        } catch {
          return false;
        }
      });
      return { includes: () => named };
    },
    includeHint: (dir) => `rule_files: ["${dir}/rules/*.yml"]`,
  };
}

export interface ConfigApiDeps {
  /** patrol.yml; undefined when Patrol runs its built-in default. */
  configFile: string | undefined;
  /** The configuration in use and the file each item came from. */
  loaded: () => Loaded | null;
  /** The rule groups of the running configuration (rule_files), as loaded. */
  ruleGroups?: () => readonly RuleGroup[];
  reload: () => Promise<{ ok: boolean; errors: string[] }>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

type Item = Record<string, unknown>;

function isItem(v: unknown): v is Item {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `next` with every `<secret>` (what a read shows) replaced by the value at the same place in
 * `prev`, so an item read, changed and written back keeps its secrets. A mask with nothing to
 * keep is refused: it would become the secret.
 */
export function keepSecrets(next: unknown, prev: unknown, at: string): unknown {
  if (next === SECRET_MASK || (typeof next === 'string' && next.includes(`:${SECRET_MASK}@`))) {
    if (typeof prev === 'string') return prev;
    throw new HttpError(400, `${at}: "${SECRET_MASK}" is how a secret is shown; give the value`, { fields: [at] });
  }
  if (Array.isArray(next)) return next.map((x, i) => keepSecrets(x, Array.isArray(prev) ? prev[i] : undefined, `${at}[${i}]`));
  if (isItem(next)) {
    const out: Item = {};
    for (const [k, v] of Object.entries(next)) out[k] = keepSecrets(v, isItem(prev) ? prev[k] : undefined, at ? `${at}.${k}` : k);
    return out;
  }
  return next;
}

/** Writes a file so that a reader sees the old text or the new, never a part. */
async function writeAtomically(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o640 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** One item's place in the managed file: its value there, how to set and remove it, its config path. */
interface Slot {
  prev: unknown;
  set: (value: Item) => void;
  remove: () => void;
  /** The item's config path as load errors name it. */
  prefix: string;
}

/** An item of the YAML list at `path` (made when absent), found by its `key` field. */
function listSlot(doc: Document, path: readonly string[], key: string, name: string): Slot {
  const node = doc.getIn(path, true);
  if (node !== undefined && node !== null && !isSeq(node)) throw new HttpError(409, `${path.join('.')} in the managed file is not a list; fix the file`);
  const list = node ? node.items.map((n) => (n && typeof n === 'object' && 'toJSON' in n ? (n as { toJSON(): unknown }).toJSON() : n)) : [];
  const idx = list.findIndex((x) => isItem(x) && x[key] === name);
  const index = idx >= 0 ? idx : list.length;
  return {
    prev: idx >= 0 ? list[idx] : undefined,
    set: (value) => {
      if (idx >= 0) doc.setIn([...path, idx], doc.createNode(value));
      else if (!node) doc.setIn(path, doc.createNode([value]));
      else doc.addIn(path, doc.createNode(value));
    },
    remove: () => doc.deleteIn([...path, idx]),
    prefix: `${path.join('.')}[${index}]`,
  };
}

/** An item of the YAML mapping at `path` (made when absent), under its name; the item's `key` field is the mapping's key. */
function mapSlot(doc: Document, path: readonly string[], key: string, name: string): Slot {
  const node = doc.getIn(path, true);
  if (node !== undefined && node !== null && !isMap(node)) throw new HttpError(409, `${path.join('.')} in the managed file is not a mapping; fix the file`);
  const prev = node ? (node.toJSON() as Item)[name] : undefined;
  return {
    prev: isItem(prev) ? { [key]: name, ...prev } : prev,
    set: (value) => {
      const rest = { ...value };
      delete rest[key];
      doc.setIn([...path, name], doc.createNode(rest));
    },
    remove: () => doc.deleteIn([...path, name]),
    prefix: `${path.join('.')}.${name}`,
  };
}

export function registerConfigAPI(app: FastifyInstance, d: ConfigApiDeps): void {
  // One write at a time: each reads the file the previous one wrote.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn);
    chain = run.catch(() => undefined);
    return run;
  };

  const current = () => {
    const l = d.loaded();
    if (!l) throw new HttpError(503, 'starting');
    return l;
  };
  const rel = (dir: string, f: string) => (isAbsolute(f) && !relative(dir, f).startsWith('..') ? relative(dir, f) : f);
  const kinds = [
    configKind('probes', 'probe', ['probes'], 'probes.yml', () => d),
    configKind('receivers', 'receiver', ['alerting', 'receivers'], 'receivers.yml', () => d),
    configKind('status_pages', 'status page', ['status_pages'], 'status_pages.yml', () => d),
    configKind('routes', 'route', ['alerting', 'route', 'routes'], 'routes.yml', () => d),
    configKind('users', 'user', ['server', 'auth', 'users'], 'users.yml', () => d, userWithHash),
    ruleGroupsKind(() => d),
  ];

  const send = async (reply: FastifyReply, fn: () => Promise<unknown>) => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof HttpError) return reply.code(e.status).send({ status: 'error', errorType: e.status === 400 ? 'bad_data' : e.status === 404 ? 'not_found' : e.status === 409 ? 'conflict' : 'unavailable', error: e.message, ...e.extra });
      throw e;
    }
  };

  for (const k of kinds) {
    const base = `${CONFIG_API_PREFIX}/${k.segment}`;

    const one = (name: string) => {
      const l = current();
      const found = k.items(l).find((x) => x.item[k.key] === name);
      if (!found) throw new HttpError(404, `no ${k.noun} named ${JSON.stringify(name)}`);
      return { item: found.item, source: rel(l.dir, found.source) };
    };

    /**
     * Applies `change` to the managed file's list of this kind, checks the whole configuration
     * with the new text, writes it and reloads. `name` is the item changed; `next` its new value
     * (undefined: delete). Returns the item before and after, as reads show them.
     */
    const write = (req: FastifyRequest, name: string, next: Item | undefined, mode: 'create' | 'put' | 'delete') =>
      serial(async () => {
        if (!d.configFile) throw new HttpError(409, 'Patrol runs its built-in default configuration; start it with --config FILE to change the configuration through the API');
        const l = current();
        const managedDir = resolve(l.dir, l.config.config_api.dir);
        const file = join(managedDir, k.file);
        const found = k.items(l).find((x) => x.item[k.key] === name);
        const origin = found?.source;
        const exists = found !== undefined;
        if (mode === 'create' && exists) throw new HttpError(409, `a ${k.noun} named ${JSON.stringify(name)} exists already (${rel(l.dir, origin ?? '')})`);
        if (mode === 'delete' && !exists) throw new HttpError(404, `no ${k.noun} named ${JSON.stringify(name)}`);
        if (exists && origin !== undefined && resolve(origin) !== file) {
          throw new HttpError(409, `${k.noun} ${JSON.stringify(name)} is defined in ${rel(l.dir, origin)}, which the API does not manage; change it there (the API writes ${rel(l.dir, file)})`);
        }
        let oldText: string | null = null;
        try {
          oldText = await readFile(file, 'utf8');
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
        const doc = parseDocument(oldText ?? '', { uniqueKeys: true });
        if (doc.errors.length > 0) throw new HttpError(409, `${rel(l.dir, file)} does not parse (${doc.errors[0].message.split('\n')[0]}); fix the file`);
        if (doc.contents !== null && !isMap(doc.contents)) throw new HttpError(409, `${rel(l.dir, file)} is not a mapping; fix the file`);
        const slot = (k.map ? mapSlot : listSlot)(doc, k.path, k.key, name);
        const before = exists ? one(name).item : null;
        if (next === undefined) slot.remove();
        else slot.set(keepSecrets(k.prepare ? await k.prepare(next) : next, slot.prev, '') as Item);
        const text = doc.toString({ lineWidth: 0 });
        const checked = await k.check(l, file, text);
        if ('errors' in checked) {
          const prefix = slot.prefix;
          const fields = checked.errors
            .filter((e) => resolve(e.file) === file && (e.path === prefix || e.path.startsWith(`${prefix}.`) || e.path.startsWith(`${prefix}[`)))
            .map((e) => e.path.slice(prefix.length).replace(/^\./, '') || '(item)');
          const errors = checked.errors.slice(0, 50).map((e) => `${rel(l.dir, e.file)}:${e.text}`);
          throw new HttpError(400, errors.join('\n'), { errors, fields });
        }
        if (next !== undefined && !checked.includes(name)) {
          throw new HttpError(409, `${rel(l.dir, d.configFile)} does not read ${rel(l.dir, file)}; add \`${k.includeHint(rel(l.dir, managedDir))}\``);
        }
        await writeAtomically(file, text);
        const r = await d.reload();
        if (!r.ok) {
          // Put the file back so the files on disk match what runs.
          if (oldText === null) await rm(file, { force: true });
          else await writeAtomically(file, oldText);
          throw new HttpError(500, `the configuration was valid but applying it failed; ${rel(l.dir, file)} is unchanged: ${r.errors.slice(0, 10).join('; ')}`, { errors: r.errors.slice(0, 50) });
        }
        const after = next === undefined ? null : one(name).item;
        recordChange(req, before, after);
        return { before, after, source: rel(current().dir, file) };
      });

    const body = (req: FastifyRequest): Item => {
      if (!isItem(req.body)) throw new HttpError(400, `the body must be a JSON object: one ${k.noun} as it is written in the YAML file`);
      return req.body;
    };
    const named = (b: Item, name: string | undefined): string => {
      const n = b[k.key] ?? name;
      if (typeof n !== 'string' || n === '') throw new HttpError(400, `${k.key}: a non-empty string is required`, { fields: [k.key] });
      if (name !== undefined && n !== name) throw new HttpError(400, `${k.key}: ${JSON.stringify(n)} differs from the ${k.key} in the URL (${JSON.stringify(name)}); renaming is a delete and a create`, { fields: [k.key] });
      return n;
    };

    app.get(base, async (_req, reply) =>
      send(reply, async () => {
        const l = current();
        const items = k.items(l);
        const sources = Object.fromEntries(items.map((x) => [String(x.item[k.key]), rel(l.dir, x.source)]));
        return { status: 'success', data: items.map((x) => x.item), sources };
      }),
    );
    app.get<{ Params: { name: string } }>(`${base}/:name`, async (req, reply) =>
      send(reply, async () => {
        const r = one(req.params.name);
        return { status: 'success', data: r.item, source: r.source };
      }),
    );
    const opts = { bodyLimit: 256 * 1024 };
    app.post(base, opts, async (req, reply) =>
      send(reply, async () => {
        const b = body(req);
        const r = await write(req, named(b, undefined), { ...b, [k.key]: named(b, undefined) }, 'create');
        return reply.code(201).send({ status: 'success', data: r.after, source: r.source });
      }),
    );
    app.put<{ Params: { name: string } }>(`${base}/:name`, opts, async (req, reply) =>
      send(reply, async () => {
        const b = body(req);
        const name = named(b, req.params.name);
        const r = await write(req, name, { ...b, [k.key]: name }, 'put');
        return reply.code(r.before ? 200 : 201).send({ status: 'success', data: r.after, source: r.source });
      }),
    );
    app.delete<{ Params: { name: string } }>(`${base}/:name`, async (req, reply) =>
      send(reply, async () => {
        await write(req, req.params.name, undefined, 'delete');
        return { status: 'success' };
      }),
    );
  }
}

/**
 * A user as the file holds it: a `password` given in the body becomes its `password_hash`
 * (scrypt, as `patrol hash-password` makes; it replaces the hash), so the password itself is
 * never written.
 */
async function userWithHash(u: Item): Promise<Item> {
  if (u.password === undefined) return u;
  if (typeof u.password !== 'string' || u.password.length < 8 || u.password.length > 1024) throw new HttpError(400, 'password: 8 to 1024 characters', { fields: ['password'] });
  const { password, ...rest } = u;
  return { ...rest, password_hash: await hashPassword(password) };
}

/** A loaded rule group as it is written in a rule file. */
export function ruleGroupAsWritten(g: RuleGroup): Item {
  const out: Item = { name: g.name };
  if (g.interval !== undefined) out.interval = formatDuration(g.interval);
  if (g.queryOffset !== undefined) out.query_offset = formatDuration(g.queryOffset);
  if (g.limit > 0) out.limit = g.limit;
  if (Object.keys(g.labels).length > 0) out.labels = g.labels;
  out.rules = g.rules.map((r) => {
    const o: Item = r.alert !== undefined ? { alert: r.alert } : { record: r.record };
    o.expr = r.expr;
    if (r.for > 0) o.for = formatDuration(r.for);
    if (r.keepFiringFor > 0) o.keep_firing_for = formatDuration(r.keepFiringFor);
    if (Object.keys(r.labels).length > 0) o.labels = r.labels;
    if (Object.keys(r.annotations).length > 0) o.annotations = r.annotations;
    return o;
  });
  return out;
}
