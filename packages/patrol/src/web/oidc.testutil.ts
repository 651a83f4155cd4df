// node-oidc-provider on 127.0.0.1 for the OIDC login tests: one confidential client `patrol`
// (secret `client-secret-of-patrol`) whose redirect URI is given, accounts whose claims are
// preferred_username, groups and team, and its development login and consent forms.

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export const OP_CLIENT_SECRET = 'client-secret-of-patrol';

export type Accounts = Record<string, { groups: string[]; team?: string }>;

export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; base: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const close = async () => {
    server.closeAllConnections();
    await new Promise((ok) => server.close(ok));
  };
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}

export async function startOidcProvider(redirectUri: string, accounts: Accounts) {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_q, s) => void s.end();
  const op = await listen((q, s) => handler(q, s));
  const provider = new Provider(op.base, {
    clients: [{ client_id: 'patrol', client_secret: OP_CLIENT_SECRET, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'] }],
    findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id, preferred_username: id, groups: accounts[id]?.groups ?? [], team: accounts[id]?.team }) }),
    claims: { openid: ['sub'], profile: ['preferred_username', 'groups', 'team'] },
    // The claims asked for by scope go into the ID token, not only into userinfo.
    conformIdTokenClaims: false,
    cookies: { keys: [randomBytes(16).toString('hex')] },
    features: { devInteractions: { enabled: true } },
  });
  const callback = provider.callback();
  handler = (q, s) => void callback(q, s);
  return op;
}
