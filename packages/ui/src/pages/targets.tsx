// Scrape targets from GET /api/v1/targets: health, last scrape and last error, by scrape pool.

import { useApi } from '../api';
import { ErrorBox, Loading } from '../components';
import { fmtMs, fmtTime, t } from '../i18n';

interface Target {
  scrapePool: string;
  scrapeUrl: string;
  labels: Record<string, string>;
  health: string;
  lastError: string;
  lastScrape: string;
  lastScrapeDuration: number;
}

export function TargetsPage() {
  const r = useApi<{ activeTargets: Target[] }>('/api/v1/targets?state=active', 10000);
  const list = r.data?.activeTargets ?? [];
  return (
    <main class="page">
      <h1>{t('targets')}</h1>
      {r.error && <ErrorBox error={r.error} retry={r.reload} />}
      {!r.data && !r.error && <Loading />}
      {r.data && list.length === 0 && <p class="msg">{t('noTargets')}</p>}
      {list.length > 0 && (
        <div class="scroll-x">
          <table class="tbl">
            <thead>
              <tr>
                <th>{t('endpoint')}</th>
                <th>{t('health')}</th>
                <th>{t('lastScrape')}</th>
                <th>{t('lastError')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((x) => (
                <tr>
                  <td>
                    <b>{x.scrapeUrl}</b> <small class="muted">{x.scrapePool}</small>
                  </td>
                  <td>
                    <span class={`badge s-${x.health === 'up' ? 'up' : x.health === 'down' ? 'down' : 'unknown'}`}>{x.health}</span>
                  </td>
                  <td>
                    {fmtTime(Date.parse(x.lastScrape))} · {fmtMs(x.lastScrapeDuration * 1000)}
                  </td>
                  <td class="t-down">{x.lastError}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
