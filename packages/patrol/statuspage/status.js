// The public status page's script: reads /api/patrol/v1/status-pages/<slug> (the slug is the
// last part of this page's path), draws the current state, 90 daily uptime bars per probe and
// the state changes, and reads again every minute. English or Chinese from the browser (the
// button switches, the choice is remembered); times in the viewer's time zone. Everything shown
// is set as text, never as HTML.

const TEXT = {
  en: {
    lang: '中文',
    all_up: 'All systems operational',
    some_degraded: 'Some systems are degraded',
    some_down: 'Some systems are down',
    unknown: 'Status not known yet',
    up: 'Operational',
    degraded: 'Degraded',
    down: 'Down',
    none: 'No data',
    incidents: 'Incidents (last 90 days)',
    no_incidents: 'No incidents in the last 90 days.',
    ago90: '90 days ago',
    today: 'Today',
    uptime: (p) => `${p} uptime`,
    updated: (t) => `Updated ${t}`,
    change: (probe, from, to) => `${probe}: ${from} → ${to}`,
    bars: (name, p) => `${name}: daily uptime over 90 days, ${p} overall`,
    day: (d, p, m, g) => `${d}: ${p}${m > 0 ? `, down ${m} min` : ''}${g > 0 ? `, degraded ${g} min` : ''}`,
    failed: 'Cannot load the status right now; retrying.',
    missing: 'This status page does not exist.',
  },
  zh: {
    lang: 'English',
    all_up: '所有系统运行正常',
    some_degraded: '部分系统性能下降',
    some_down: '部分系统发生故障',
    unknown: '状态暂未知',
    up: '正常',
    degraded: '性能下降',
    down: '故障',
    none: '无数据',
    incidents: '事件（最近 90 天）',
    no_incidents: '最近 90 天没有事件。',
    ago90: '90 天前',
    today: '今天',
    uptime: (p) => `可用率 ${p}`,
    updated: (t) => `更新于 ${t}`,
    change: (probe, from, to) => `${probe}：${from} → ${to}`,
    bars: (name, p) => `${name}：最近 90 天每日可用率，总计 ${p}`,
    day: (d, p, m, g) => `${d}：${p}${m > 0 ? `，故障 ${m} 分钟` : ''}${g > 0 ? `，性能下降 ${g} 分钟` : ''}`,
    failed: '暂时无法加载状态，正在重试。',
    missing: '此状态页不存在。',
  },
};

const stored = (() => {
  try {
    return localStorage.getItem('patrol-status-lang');
  } catch {
    return null;
  }
})();
let lang = stored === 'en' || stored === 'zh' ? stored : (navigator.languages ?? [navigator.language]).some((l) => /^zh\b/i.test(l)) ? 'zh' : 'en';
let last = null;
let failure = '';

const slug = decodeURIComponent(location.pathname.replace(/\/+$/, '').split('/').pop() ?? '');
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
const t = () => TEXT[lang];
const pct = (r) => (r === null ? t().none : `${(Math.floor(r * 10000) / 100).toFixed(2)} %`);
const when = (ms) => new Date(ms).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' });
const dayLabel = (iso) => new Date(`${iso}T00:00:00Z`).toLocaleDateString(lang === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeZone: 'UTC' });
const stateText = (s) => (s === 'up' || s === 'degraded' || s === 'down' ? t()[s] : t().none);
const barClass = (d) => (d.uptime === null ? 'bar' : d.uptime < 0.95 ? 'bar down' : d.uptime < 0.999 || d.degraded_minutes > 0 ? 'bar degraded' : 'bar up');

function render() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  $('lang').textContent = t().lang;
  $('incidents-h').textContent = t().incidents;
  const overall = $('overall');
  if (!last) {
    overall.className = 'overall';
    overall.textContent = failure || '…';
    return;
  }
  const d = last;
  document.title = d.title;
  $('title').textContent = d.title;
  $('description').textContent = d.description;
  $('description').hidden = d.description === '';
  overall.className = `overall ${d.state}`;
  overall.textContent = failure || { up: t().all_up, degraded: t().some_degraded, down: t().some_down, unknown: t().unknown }[d.state];
  const groups = $('groups');
  groups.replaceChildren();
  for (const g of d.groups) {
    const sec = el('section', 'group');
    sec.append(el('h2', '', g.name));
    for (const p of g.probes) {
      const item = el('div', 'probe');
      const row = el('div', 'row');
      row.append(el('span', 'name', p.name), el('span', `state ${p.state}`, stateText(p.state)));
      const bars = el('div', 'bars');
      bars.setAttribute('role', 'img');
      bars.setAttribute('aria-label', t().bars(p.name, pct(p.uptime)));
      for (const day of p.days) {
        const b = el('span', barClass(day));
        b.title = t().day(dayLabel(day.date), pct(day.uptime), day.down_minutes, day.degraded_minutes);
        bars.append(b);
      }
      const axis = el('div', 'axis');
      axis.append(el('span', '', t().ago90), el('span', '', t().uptime(pct(p.uptime))), el('span', '', t().today));
      item.append(row, bars, axis);
      sec.append(item);
    }
    groups.append(sec);
  }
  const list = $('incidents');
  list.replaceChildren();
  if (d.incidents.length === 0) list.append(el('li', '', t().no_incidents));
  for (const i of d.incidents) {
    const li = el('li');
    const time = el('time', '', when(i.time));
    time.dateTime = new Date(i.time).toISOString();
    li.append(el('span', `state ${i.to}`, t().change(i.probe, stateText(i.from), stateText(i.to))), time);
    list.append(li);
  }
  $('updated').textContent = t().updated(when(d.generated_at));
}

async function load() {
  try {
    const res = await fetch(`/api/patrol/v1/status-pages/${encodeURIComponent(slug)}`, { headers: { accept: 'application/json' } });
    if (res.status === 404) {
      last = null;
      failure = t().missing;
    } else if (!res.ok) throw new Error(`HTTP ${res.status}`);
    else {
      last = (await res.json()).data;
      failure = '';
    }
  } catch {
    failure = t().failed;
  }
  render();
}

$('lang').addEventListener('click', () => {
  lang = lang === 'zh' ? 'en' : 'zh';
  try {
    localStorage.setItem('patrol-status-lang', lang);
  } catch {
    // Storage refused (private mode): the switch still holds for this visit.
  }
  render();
});
render();
void load();
setInterval(() => void load(), 60_000);
