// Client-side routes on the History API: links are plain <a href>, a click is intercepted and
// pushed; the server answers index.html for every route, so reloads and shared links work.

import { Store, useStore } from './api';

export const location = new Store(window.location.pathname + window.location.search);

export function navigate(to: string, replace = false): void {
  if (to === location.value) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  location.set(to);
  window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => location.set(window.location.pathname + window.location.search));

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element).closest?.('a');
  if (!a || a.target || a.hasAttribute('download')) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('//') || href.startsWith('/api/')) return;
  e.preventDefault();
  navigate(href);
});

export function useLocation(): { path: string; query: URLSearchParams } {
  const v = useStore(location);
  const [path, q] = v.split('#')[0].split('?');
  return { path, query: new URLSearchParams(q ?? '') };
}
