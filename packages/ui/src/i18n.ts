// English and Simplified Chinese. The language comes from the saved choice, else the browser
// (navigator.language zh* → zh-CN); t() falls back to English for a missing key.

const en = {
  overview: 'Overview',
  alerts: 'Alerts',
  silences: 'Silences',
  rules: 'Rules',
  targets: 'Targets',
  probes: 'probes',
  down: 'Down',
  up: 'Up',
  degraded: 'Degraded',
  unknown: 'Unknown',
  silenced: 'Silenced',
  ackState: 'Acknowledged',
  ackShort: 'Acked',
  all: 'All',
  filter: 'Filter by name, target or label (team=web, state:down)',
  name: 'Name',
  state: 'State',
  since: 'Since',
  lastFailure: 'Last failure',
  uptime24: 'Uptime 24 h',
  uptime30: 'Uptime 30 d',
  uptime90: 'Uptime 90 d',
  uptimeBars: 'Uptime bars',
  latency: 'Latency',
  noProbes: 'No probes are configured. Add a probes: section to the configuration.',
  noMatch: 'No probe matches the filter.',
  groupBy: 'Group by',
  noGroup: 'none',
  reconnecting: 'Connection lost, reconnecting…',
  loading: 'Loading…',
  error: 'Error',
  retry: 'Retry',
  never: 'never',
  none: 'none',
  target: 'Target',
  type: 'Type',
  labels: 'Labels',
  interval: 'Interval',
  latencyOverTime: 'Latency over the last 24 hours',
  phases: 'Latency by phase (HTTP)',
  events: 'State changes',
  noEvents: 'No state change recorded.',
  certExpiry: 'Certificate expires',
  percentiles: 'Latency percentiles (24 h)',
  notFound: 'Page not found.',
  back: 'Back to overview',
  login: 'Log in',
  username: 'User name',
  password: 'Password',
  loginNotNeeded: 'This Patrol does not ask anyone to log in (server.auth is not configured).',
  activeAlerts: 'Active alerts',
  noAlerts: 'No active alert.',
  silence: 'Silence',
  firing: 'firing',
  suppressed: 'suppressed',
  newSilence: 'New silence',
  matchers: 'Matchers (one per line: name="value", name=~"regex", name!="value")',
  duration: 'Duration',
  createdBy: 'Created by',
  comment: 'Comment',
  save: 'Create silence',
  cancel: 'Cancel',
  expire: 'Expire',
  affected: 'Alerts these matchers silence now',
  affectedNone: 'No active alert matches these matchers.',
  noSilences: 'No silence.',
  startsAt: 'Starts',
  endsAt: 'Ends',
  status: 'Status',
  group: 'Group',
  health: 'Health',
  lastEval: 'Last evaluation',
  expr: 'Expression',
  noRules: 'No rule is configured.',
  endpoint: 'Endpoint',
  lastScrape: 'Last scrape',
  lastError: 'Last error',
  noTargets: 'No scrape target.',
  theme: 'Theme',
  language: 'Language',
  invalidMatcher: 'Invalid matcher',
  needMatcher: 'At least one matcher is required.',
  needComment: 'A comment is required.',
  needCreator: 'Who creates the silence is required.',
  created: 'Silence created.',
  statusCode: 'Status code',
  reason: 'Reason',
  time: 'Time',
  lastRun: 'Last run',
  showing: 'showing',
  of: 'of',
  ago: 'ago',
  runNow: 'Run now',
  running: 'Running…',
  // h17b: alerts, silences, history, explore, hosts
  inhibited: 'inhibited',
  held: 'held back',
  acknowledged: 'acknowledged',
  pending: 'pending',
  pendingRules: 'Pending (rules waiting for their "for" duration)',
  acknowledge: 'Acknowledge',
  unacknowledge: 'Un-acknowledge',
  ackBy: 'Your name',
  ackedBy: 'Acknowledged by',
  until: 'until',
  heldBy: 'Held back by',
  escalationStep: 'Escalation step',
  next: 'next',
  rule: 'Rule',
  history: 'History',
  range: 'Range',
  endTime: 'Ending at (empty: now)',
  apply: 'Apply',
  alertEvents: 'Alert state changes',
  noHistory: 'No alert event in this range.',
  event: 'Event',
  details: 'Details',
  notifications: 'Notifications',
  noNotifications: 'No notification in this range.',
  channel: 'Channel',
  outcome: 'Outcome',
  success: 'sent',
  failure: 'failed',
  resolved: 'resolved',
  unacknowledged: 'un-acknowledged',
  escalated: 'escalated',
  edit: 'Edit',
  recreate: 'Recreate',
  editSilence: 'Edit silence',
  saveSilence: 'Save silence',
  endInPast: 'The end must be in the future.',
  explore: 'Explore',
  promql: 'PromQL query (Ctrl+Enter runs it)',
  run: 'Run',
  graph: 'Graph',
  table: 'Table',
  noData: 'No data.',
  series: 'Series',
  value: 'Value',
  exploreHint: 'Type a PromQL expression, e.g. rate(patrol_probe_duration_seconds_count[5m]), and run it.',
  hosts: 'Hosts',
  noHosts: 'No host metrics: enable the host: collector or scrape a node_exporter.',
  host: 'Host',
  cpu: 'CPU',
  memory: 'Memory',
  disk: 'Disk (fullest)',
  netRx: 'Network in',
  netTx: 'Network out',
  cores: 'cores',
  // h20: audit page
  audit: 'Audit',
  auditActor: 'Who',
  auditMethod: 'Method',
  auditPath: 'Path starts with',
  auditWhen: 'When',
  auditAction: 'Action',
  auditStatus: 'Status',
  auditNone: 'No write recorded (matching the filter).',
  auditAdminOnly: 'The audit log is for admins only',
  auditCreated: 'Created',
  auditDeleted: 'Deleted',
  auditChanged: 'Changed',
  auditField: 'Field',
  auditBefore: 'Before',
  auditAfter: 'After',
  auditNoDiff: 'No field changed.',
  auditRequest: 'Request body',
  auditOlder: 'Older entries →',
  auditNewest: '← Newest entries',
} as const;

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  overview: '概览',
  alerts: '告警',
  silences: '静默',
  rules: '规则',
  targets: '采集目标',
  probes: '个探测',
  down: '故障',
  up: '正常',
  degraded: '降级',
  unknown: '未知',
  silenced: '已静默',
  ackState: '已确认',
  ackShort: '已确认',
  all: '全部',
  filter: '按名称、目标或标签筛选（team=web, state:down）',
  name: '名称',
  state: '状态',
  since: '持续自',
  lastFailure: '最近失败',
  uptime24: '24 小时可用率',
  uptime30: '30 天可用率',
  uptime90: '90 天可用率',
  uptimeBars: '可用率区间',
  latency: '延迟',
  noProbes: '尚未配置探测。请在配置中添加 probes: 部分。',
  noMatch: '没有符合筛选条件的探测。',
  groupBy: '分组',
  noGroup: '不分组',
  reconnecting: '连接已断开，正在重新连接…',
  loading: '加载中…',
  error: '错误',
  retry: '重试',
  never: '从未',
  none: '无',
  target: '目标',
  type: '类型',
  labels: '标签',
  interval: '间隔',
  latencyOverTime: '最近 24 小时延迟',
  phases: '各阶段延迟（HTTP）',
  events: '状态变化',
  noEvents: '没有状态变化记录。',
  certExpiry: '证书到期',
  percentiles: '延迟百分位（24 小时）',
  notFound: '页面不存在。',
  back: '返回概览',
  login: '登录',
  username: '用户名',
  password: '密码',
  loginNotNeeded: '此 Patrol 无需登录（未配置 server.auth）。',
  activeAlerts: '活动告警',
  noAlerts: '没有活动告警。',
  silence: '静默',
  firing: '触发中',
  suppressed: '已抑制',
  newSilence: '新建静默',
  matchers: '匹配器（每行一个：name="value"、name=~"正则"、name!="value"）',
  duration: '时长',
  createdBy: '创建人',
  comment: '备注',
  save: '创建静默',
  cancel: '取消',
  expire: '使失效',
  affected: '这些匹配器当前会静默的告警',
  affectedNone: '没有活动告警匹配这些匹配器。',
  noSilences: '没有静默。',
  startsAt: '开始',
  endsAt: '结束',
  status: '状态',
  group: '分组',
  health: '健康',
  lastEval: '最近评估',
  expr: '表达式',
  noRules: '尚未配置规则。',
  endpoint: '端点',
  lastScrape: '最近采集',
  lastError: '最近错误',
  noTargets: '没有采集目标。',
  theme: '主题',
  language: '语言',
  invalidMatcher: '无效的匹配器',
  needMatcher: '至少需要一个匹配器。',
  needComment: '必须填写备注。',
  needCreator: '必须填写创建人。',
  created: '静默已创建。',
  statusCode: '状态码',
  reason: '原因',
  time: '时间',
  lastRun: '最近运行',
  showing: '显示',
  of: '/',
  ago: '前',
  runNow: '立即运行',
  running: '运行中…',
  // h17b: alerts, silences, history, explore, hosts
  inhibited: '已抑制',
  held: '已暂缓',
  acknowledged: '已确认',
  pending: '待定',
  pendingRules: '待定（规则正在等待其 for 时长）',
  acknowledge: '确认',
  unacknowledge: '取消确认',
  ackBy: '你的名字',
  ackedBy: '确认人',
  until: '直到',
  heldBy: '被依赖暂缓',
  escalationStep: '升级步骤',
  next: '下一次',
  rule: '规则',
  history: '历史',
  range: '时间范围',
  endTime: '结束于（留空：现在）',
  apply: '应用',
  alertEvents: '告警状态变化',
  noHistory: '此范围内没有告警事件。',
  event: '事件',
  details: '详情',
  notifications: '通知',
  noNotifications: '此范围内没有通知。',
  channel: '渠道',
  outcome: '结果',
  success: '已发送',
  failure: '失败',
  resolved: '已恢复',
  unacknowledged: '已取消确认',
  escalated: '已升级',
  edit: '编辑',
  recreate: '重新创建',
  editSilence: '编辑静默',
  saveSilence: '保存静默',
  endInPast: '结束时间必须在将来。',
  explore: '探索',
  promql: 'PromQL 查询（Ctrl+Enter 执行）',
  run: '执行',
  graph: '图表',
  table: '表格',
  noData: '没有数据。',
  series: '序列',
  value: '值',
  exploreHint: '输入 PromQL 表达式，例如 rate(patrol_probe_duration_seconds_count[5m])，然后执行。',
  hosts: '主机',
  noHosts: '没有主机指标：请启用 host: 采集器或采集 node_exporter。',
  host: '主机',
  cpu: 'CPU',
  memory: '内存',
  disk: '磁盘（最满）',
  netRx: '网络入',
  netTx: '网络出',
  cores: '核',
  // h20: audit page
  audit: '审计',
  auditActor: '操作者',
  auditMethod: '方法',
  auditPath: '路径前缀',
  auditWhen: '时间',
  auditAction: '操作',
  auditStatus: '状态码',
  auditNone: '没有（符合筛选条件的）写操作记录。',
  auditAdminOnly: '审计日志仅限管理员查看',
  auditCreated: '已创建',
  auditDeleted: '已删除',
  auditChanged: '已修改',
  auditField: '字段',
  auditBefore: '修改前',
  auditAfter: '修改后',
  auditNoDiff: '没有字段变化。',
  auditRequest: '请求内容',
  auditOlder: '更早的记录 →',
  auditNewest: '← 最新记录',
};

export type Lang = 'en' | 'zh-CN';

function initial(): Lang {
  try {
    const saved = localStorage.getItem('patrol.lang');
    if (saved === 'en' || saved === 'zh-CN') return saved;
  } catch {
    // storage disabled
  }
  return /^zh\b/i.test(navigator.language || '') ? 'zh-CN' : 'en';
}

export let lang: Lang = initial();
document.documentElement.lang = lang;

export function setLang(l: Lang): void {
  lang = l;
  document.documentElement.lang = l;
  try {
    localStorage.setItem('patrol.lang', l);
  } catch {
    // storage disabled
  }
}

export function t(k: Key): string {
  return lang === 'zh-CN' ? zh[k] : en[k];
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();

/** A time in the viewer's time zone and language. */
export function fmtTime(ms: number | null | undefined, withDate = true): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) return '—';
  const key = lang + withDate;
  let f = fmtCache.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(lang, withDate ? { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false } : { hour: '2-digit', minute: '2-digit', hour12: false });
    fmtCache.set(key, f);
  }
  return f.format(ms);
}

/** "3 min" / "2 h" / "5 d" from a span in ms. */
export function fmtSpan(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const zhl = lang === 'zh-CN';
  if (s < 60) return zhl ? `${s} 秒` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return zhl ? `${m} 分钟` : `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return zhl ? `${h} 小时 ${m % 60} 分` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return zhl ? `${d} 天 ${h % 24} 小时` : `${d}d ${h % 24}h`;
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function fmtPct(r: number | null | undefined): string {
  if (r === null || r === undefined || r < 0) return '—';
  const p = r * 100;
  return `${p >= 99.995 ? '100' : p.toFixed(2)}%`;
}
