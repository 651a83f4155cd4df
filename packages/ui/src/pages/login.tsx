// The login page: a user name and password form when server.auth has local users, and a button
// that starts the OpenID Connect login when server.auth.oidc is configured (both from
// GET /api/patrol/v1/auth/methods). The session is an HttpOnly cookie set by the server.

import { useState } from 'preact/hooks';
import { request, setCsrfToken, useApi } from '../api';
import { ErrorBox, Loading } from '../components';
import { t } from '../i18n';
import { navigate } from '../router';

interface Methods {
  auth: boolean;
  password: boolean;
  oidc: { login_url: string; label: string } | null;
}

export function LoginPage() {
  const m = useApi<Methods>('/api/patrol/v1/auth/methods');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [err, setErr] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    try {
      const r = await request<{ csrf_token?: string }>('/api/patrol/v1/auth/login', { method: 'POST', body: JSON.stringify({ username: user, password }) });
      setCsrfToken(r.csrf_token);
      // Back to the page that sent here (a path of this site only).
      const next = new URLSearchParams(location.search).get('next') ?? '/';
      navigate(next.startsWith('/') && !next.startsWith('//') ? next : '/');
    } catch (x) {
      setErr((x as Error).message);
    }
  };
  return (
    <main class="page">
      <h1>{t('login')}</h1>
      {m.error && <ErrorBox error={m.error} retry={m.reload} />}
      {!m.data && !m.error && <Loading />}
      {m.data && !m.data.auth && <p class="msg">{t('loginNotNeeded')}</p>}
      {m.data?.oidc && (
        <p>
          <a class="button primary" href={m.data.oidc.login_url} data-testid="oidc-login">
            {m.data.oidc.label}
          </a>
        </p>
      )}
      {m.data?.password && (
        <form class="form" onSubmit={(e) => void submit(e)}>
          <label>
            {t('username')}
            <input autocomplete="username" value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            {t('password')}
            <input type="password" autocomplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
          </label>
          {err && <ErrorBox error={err} />}
          <div class="actions">
            <button type="submit" class="primary">
              {t('login')}
            </button>
          </div>
        </form>
      )}
    </main>
  );
}
