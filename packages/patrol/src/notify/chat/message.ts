// The default messages of the chat robots (DingTalk, WeCom, Feishu, WeChat), in English and
// Chinese: severity at a glance, the alerts that fire and resolve with their values, start time
// and duration, and links to the dashboard and to each alert's silence form. A message may
// carry several aggregation groups at once (the rate limiter merges what queued up behind it).

import { resolvedAt, type Alert } from '../../model/alert.js';
import { formatTime } from '../tmpl.js';
import { fitBlocks } from './cut.js';

export type Language = 'en' | 'zh-CN';

/** One aggregation group's notification. */
export interface GroupNote {
  readonly groupKey: string;
  readonly groupLabels: Readonly<Record<string, string>>;
  readonly alerts: readonly Alert[];
}

/** How a channel writes markdown. */
export type Flavor = 'dingtalk' | 'wecom' | 'lark' | 'text';

const WORDS = {
  en: {
    firing: 'FIRING',
    resolved: 'RESOLVED',
    groups: (n: number) => `${n} alert groups (merged while the robot's rate limit held them)`,
    started: 'Started',
    duration: 'Duration',
    ended: 'Resolved at',
    value: 'Value',
    silence: 'Silence',
    ack: 'Acknowledge',
    source: 'Source',
    dashboard: 'Open in Patrol',
    more: (n: number) => `… ${n} more alert${n === 1 ? '' : 's'} left out to fit the message size limit`,
    severity: { critical: 'critical', warning: 'warning', info: 'info', none: 'none' } as Record<string, string>,
  },
  'zh-CN': {
    firing: '告警中',
    resolved: '已恢复',
    groups: (n: number) => `${n} 组告警（机器人限流期间合并发送）`,
    started: '开始时间',
    duration: '持续时间',
    ended: '恢复时间',
    value: '当前值',
    silence: '静默',
    ack: '认领',
    source: '来源',
    dashboard: '在 Patrol 中查看',
    more: (n: number) => `…… 还有 ${n} 条告警因消息长度限制未显示`,
    severity: { critical: '严重', warning: '警告', info: '提示', none: '无' } as Record<string, string>,
  },
} as const;

const ICON: Record<string, string> = { critical: '🔴', error: '🔴', warning: '🟠', info: '🔵' };
const RANK: Record<string, number> = { critical: 3, error: 3, warning: 2, info: 1 };

/** The highest severity among firing alerts ('' when none carries one). */
export function topSeverity(alerts: readonly Alert[], now: number): string {
  let best = '';
  for (const a of alerts) {
    if (resolvedAt(a, now)) continue;
    const s = a.labels.severity ?? '';
    if ((RANK[s] ?? 0) > (RANK[best] ?? 0) || best === '') best = s;
  }
  return best;
}

/** `2h3m`: a short duration. */
export function shortDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = [d ? `${d}d` : '', h ? `${h}h` : '', m ? `${m}m` : '', !d && !h && s ? `${s}s` : ''].filter(Boolean);
  return parts.length ? parts.join('') : '0s';
}

/** `2026-12-04 16:20:05 UTC`, or in a time zone: `2026-12-05 00:20:05 GMT+8`. */
export function shortTime(ms: number, zone?: string): string {
  return formatTime(ms, zone);
}

/** Alertmanager's UI silence form prefilled with the alert's labels. */
export function silenceURL(externalURL: string, labels: Readonly<Record<string, string>>): string {
  const filter = '{' + Object.keys(labels).sort().map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',') + '}';
  return `${externalURL.replace(/\/$/, '')}/#/silences/new?filter=${encodeURIComponent(filter)}`;
}

export interface RenderOptions {
  readonly language: Language;
  readonly flavor: Flavor;
  readonly externalURL: string;
  readonly now: number;
  /** UTF-8 bytes the text may take. */
  readonly maxBytes: number;
  /** Times are shown in this zone (global.time_zone); UTC without one. */
  readonly timeZone?: string | undefined;
  /** A firing alert's signed acknowledgement link (alerting.patrol.ack.links). */
  readonly ackURL?: ((fingerprint: string) => string) | undefined;
}

export interface Rendered {
  title: string;
  text: string;
  /** The alerts that did not fit. */
  omitted: number;
  /** Highest firing severity ('' when none, or all resolved). */
  severity: string;
  firing: number;
  resolved: number;
}

function bold(s: string, f: Flavor): string {
  return f === 'text' ? s : `**${s}**`;
}

/** Inline code where the channel's markdown has it (Feishu's lark_md does not). */
function code(s: string, f: Flavor): string {
  return f === 'dingtalk' || f === 'wecom' ? `\`${s}\`` : s;
}

function link(label: string, url: string, f: Flavor): string {
  if (!url) return '';
  return f === 'text' ? `${label}: ${url}` : `[${label}](${url})`;
}

function color(s: string, sev: string, f: Flavor): string {
  // WeCom's markdown colours text: info (green), comment (grey), warning (orange-red).
  if (f !== 'wecom') return s;
  const c = sev === 'resolved' ? 'info' : RANK[sev] ? 'warning' : 'comment';
  return `<font color="${c}">${s}</font>`;
}

/** The title line: `🔴 [FIRING:3] HighLatency (critical)`. */
function titleOf(groups: readonly GroupNote[], o: RenderOptions, firing: number, resolved: number, sev: string): string {
  const w = WORDS[o.language];
  const names = [...new Set(groups.flatMap((g) => g.alerts.map((a) => a.labels.alertname ?? '')))].filter(Boolean);
  const name = names.length <= 2 ? names.join(', ') : `${names.slice(0, 2).join(', ')} +${names.length - 2}`;
  const icon = firing > 0 ? (ICON[sev] ?? '⚪') : '✅';
  const state = firing > 0 ? `[${w.firing}:${firing}${resolved ? ` ${w.resolved}:${resolved}` : ''}]` : `[${w.resolved}:${resolved}]`;
  const sevWord = firing > 0 && sev ? (o.language === 'zh-CN' ? `（${w.severity[sev] ?? sev}）` : ` (${w.severity[sev] ?? sev})`) : '';
  return `${icon} ${state} ${name}${sevWord}`.trim();
}

function alertBlock(a: Alert, o: RenderOptions): string {
  const w = WORDS[o.language];
  const f = o.flavor;
  const res = resolvedAt(a, o.now);
  const sev = a.labels.severity ?? '';
  const icon = res ? '✅' : (ICON[sev] ?? '⚪');
  const state = res ? w.resolved : w.firing;
  const name = a.labels.alertname ?? '';
  const sevWord = sev ? ` · ${w.severity[sev] ?? sev}` : '';
  const lines: string[] = [];
  lines.push(`${icon} ${bold(name, f)} ${color(state + sevWord, res ? 'resolved' : sev, f)}`);
  const summary = a.annotations.summary ?? a.annotations.description ?? '';
  if (summary) lines.push(f === 'dingtalk' || f === 'wecom' ? `> ${summary}` : summary);
  if (a.annotations.value) lines.push(`${w.value}: ${a.annotations.value}`);
  const shown = Object.keys(a.labels)
    .filter((k) => k !== 'alertname' && k !== 'severity')
    .sort()
    .map((k) => `${k}=${a.labels[k]}`);
  if (shown.length) lines.push(code(shown.join(', '), f));
  const end = res ? a.endsAt : o.now;
  lines.push(`${w.started}: ${shortTime(a.startsAt, o.timeZone)} · ${w.duration}: ${shortDuration(end - a.startsAt)}${res ? ` · ${w.ended}: ${shortTime(a.endsAt, o.timeZone)}` : ''}`);
  const links = [
    res || !o.ackURL ? '' : link(w.ack, o.ackURL(a.fingerprint), f),
    res ? '' : link(w.silence, o.externalURL ? silenceURL(o.externalURL, a.labels) : '', f),
    link(w.source, a.generatorURL, f),
  ].filter(Boolean);
  if (links.length) lines.push(links.join(' · '));
  // Markdown needs a blank line between paragraphs.
  return lines.join(f === 'text' ? '\n' : '\n\n') + '\n\n';
}

/** Renders one message for the groups, firing alerts first, cut to `maxBytes`. */
export function renderDefault(groups: readonly GroupNote[], o: RenderOptions): Rendered {
  const w = WORDS[o.language];
  const all = groups.flatMap((g) => g.alerts);
  const firingAlerts = all.filter((a) => !resolvedAt(a, o.now));
  const resolvedAlerts = all.filter((a) => resolvedAt(a, o.now));
  // Most severe first, then oldest first.
  firingAlerts.sort((a, b) => (RANK[b.labels.severity ?? ''] ?? 0) - (RANK[a.labels.severity ?? ''] ?? 0) || a.startsAt - b.startsAt);
  const sev = topSeverity(all, o.now);
  const title = titleOf(groups, o, firingAlerts.length, resolvedAlerts.length, sev);
  let head = (o.flavor === 'text' ? title : `${o.flavor === 'lark' ? '' : '### '}${title}`) + '\n\n';
  if (groups.length > 1) head += `${w.groups(groups.length)}\n\n`;
  else if (groups.length === 1 && Object.keys(groups[0].groupLabels).length) {
    const gl = groups[0].groupLabels;
    const s = Object.keys(gl).sort().map((k) => `${k}=${gl[k]}`).join(', ');
    head += code(s, o.flavor) + '\n\n';
  }
  const blocks = [...firingAlerts, ...resolvedAlerts].map((a) => alertBlock(a, o));
  const tail = o.externalURL ? link(w.dashboard, `${o.externalURL.replace(/\/$/, '')}/#/alerts`, o.flavor) + '\n' : '';
  const fitted = fitBlocks(head, blocks, tail, o.maxBytes, (n) => (n > 0 ? `${w.more(n)}\n\n` : ''));
  return { title, text: fitted.text.trimEnd(), omitted: fitted.omitted, severity: firingAlerts.length ? sev : '', firing: firingAlerts.length, resolved: resolvedAlerts.length };
}
