// The shell: header with navigation, counts, language and theme switches, the connection
// banner, and the page for the current route.

import { useState } from 'preact/hooks';
import { online, useStore } from './api';
import { lang, setLang, t, type Lang } from './i18n';
import { useLocation } from './router';
import { OverviewPage } from './pages/overview';
import { ProbePage } from './pages/probe';
import { AlertsPage } from './pages/alerts';
import { SilencesPage } from './pages/silences';
import { RulesPage } from './pages/rules';
import { TargetsPage } from './pages/targets';
import { LoginPage } from './pages/login';
// h17b
import { HistoryPage } from './pages/history';
import { ExplorePage } from './pages/explore';
import { HostsPage } from './pages/hosts';
// h20
import { AuditPage, useIsAdmin } from './pages/audit';

type Theme = 'light' | 'dark' | '';

function currentTheme(): Theme {
  const t = document.documentElement.dataset.theme;
  return t === 'light' || t === 'dark' ? t : '';
}

export function App() {
  const { path, query } = useLocation();
  const ok = useStore(online);
  const admin = useIsAdmin();
  const [, rerender] = useState(0);
  const [theme, setTheme] = useState<Theme>(currentTheme());
  const switchLang = (l: Lang) => {
    setLang(l);
    rerender((n) => n + 1);
  };
  const switchTheme = () => {
    const dark = theme === 'dark' || (theme === '' && matchMedia('(prefers-color-scheme: dark)').matches);
    const next: Theme = dark ? 'light' : 'dark';
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem('patrol.theme', next);
    } catch {
      // storage disabled
    }
    setTheme(next);
  };
  let page;
  if (path === '/') page = <OverviewPage />;
  else if (path.startsWith('/probes/')) page = <ProbePage name={decodeURIComponent(path.slice('/probes/'.length))} />;
  else if (path === '/alerts') page = <AlertsPage />;
  else if (path === '/silences' || path.startsWith('/silences/')) page = <SilencesPage path={path} query={query} />;
  else if (path === '/rules') page = <RulesPage />;
  else if (path === '/targets') page = <TargetsPage />;
  else if (path === '/login') page = <LoginPage />;
  // h17b
  else if (path === '/history') page = <HistoryPage query={query} />;
  else if (path === '/explore') page = <ExplorePage query={query} />;
  else if (path === '/hosts') page = <HostsPage />;
  // h20
  else if (path === '/audit') page = <AuditPage query={query} />;
  else
    page = (
      <main class="page">
        <p class="msg">{t('notFound')}</p>
        <a href="/">{t('back')}</a>
      </main>
    );
  const nav: [string, string][] = [
    ['/', t('overview')],
    ['/alerts', t('alerts')],
    ['/silences', t('silences')],
    ['/rules', t('rules')],
    ['/targets', t('targets')],
    // h17b
    ['/history', t('history')],
    ['/explore', t('explore')],
    ['/hosts', t('hosts')],
    // h20: admins only
    ...(admin ? [['/audit', t('audit')] as [string, string]] : []),
  ];
  const active = (href: string) => (href === '/' ? path === '/' || path.startsWith('/probes/') : path.startsWith(href));
  return (
    <div class="shell" key={lang}>
      <header class="top">
        <a class="brand" href="/" aria-label="Patrol">
          <svg viewBox="0 0 32 32" width="20" height="20" aria-hidden="true">
            <circle cx="16" cy="16" r="13" fill="none" stroke="currentColor" stroke-width="4" />
            <circle cx="16" cy="16" r="5" fill="currentColor" />
          </svg>
          Patrol
        </a>
        <nav data-admin={String(admin)}>
          {nav.map(([href, label]) => (
            <a href={href} class={active(href) ? 'active' : ''} aria-current={active(href) ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div class="tools">
          <select aria-label={t('language')} value={lang} onChange={(e) => switchLang((e.target as HTMLSelectElement).value as Lang)}>
            <option value="en">English</option>
            <option value="zh-CN">中文</option>
          </select>
          <button type="button" class="icon" aria-label={t('theme')} title={t('theme')} onClick={switchTheme}>
            ◐
          </button>
        </div>
      </header>
      {!ok && (
        <div class="banner" role="status">
          {t('reconnecting')}
        </div>
      )}
      {page}
    </div>
  );
}
