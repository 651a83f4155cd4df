// Local stand-ins for the chat robots' servers, for tests and benchmarks: each checks what the
// real service checks (signature and its timestamp window, key or token, body shape, size
// limit, rate limit) and answers with the real service's error codes, so a wrong signature or
// an ignored error code fails a test. The rate window is a parameter so that a benchmark can
// run a minute's limit in a second (the limiter under test is given the same window).

import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  /** ms. */
  at: number;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown>;
  bytes: number;
  /** The code the server answered. */
  code: number;
}

export interface FaithfulOptions {
  /** Messages per window (DingTalk and WeCom: 20 a minute). */
  limit?: number;
  windowMs?: number;
  /** Messages another sender already sent in the current window when the server starts. */
  spent?: number;
  /** Once over the limit, refuse everything for this long (DingTalk: 10 minutes); a window by default. */
  blockMs?: number;
  /** Answer nothing for this long (a hanging robot). */
  hangMs?: number;
  /** Answer HTTP 500 to the first N requests. */
  failFirst?: number;
  /** Body bytes the robot takes (DingTalk 20,000; Feishu 20 KB); smaller to stand for a robot that counts differently. */
  maxBody?: number;
}

abstract class Faithful {
  private server: Server | null = null;
  readonly received: Received[] = [];
  protected stamps: number[] = [];
  port = 0;
  private failed = 0;
  private blockedUntil = 0;

  constructor(protected readonly o: FaithfulOptions = {}) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.serve(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    this.stamps = Array.from({ length: this.o.spent ?? 0 }, () => Date.now());
    return this;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Counts one message against the window; false when over the limit. */
  protected allow(now: number): boolean {
    const limit = this.o.limit ?? 20;
    const w = this.o.windowMs ?? 60_000;
    this.stamps = this.stamps.filter((t) => t > now - w);
    if (now < this.blockedUntil) return false;
    if (this.stamps.length >= limit) {
      if (this.o.blockMs) this.blockedUntil = now + this.o.blockMs;
      return false;
    }
    this.stamps.push(now);
    return true;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size <= 1 << 20) chunks.push(c as Buffer);
    }
    if (this.o.hangMs) {
      await new Promise((r) => setTimeout(r, this.o.hangMs));
      if (res.destroyed) return;
    }
    if (this.o.failFirst && this.failed < this.o.failFirst) {
      this.failed++;
      res.writeHead(500).end('internal error');
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    const raw = Buffer.concat(chunks);
    let body: Record<string, unknown> = {};
    let parsed = true;
    try {
      body = req.method === 'POST' ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      parsed = false;
    }
    const rec: Received = { at: Date.now(), path: u.pathname, query: Object.fromEntries(u.searchParams), body, bytes: size, code: 0 };
    const answer = this.answer(req.method ?? 'GET', u, body, parsed, size, rec.at);
    rec.code = (answer.errcode ?? answer.code ?? 0) as number;
    this.received.push(rec);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  }

  protected abstract answer(method: string, u: URL, body: Record<string, unknown>, parsed: boolean, size: number, now: number): Record<string, unknown>;

  /** Requests answered with `code`. */
  count(code: number): number {
    return this.received.filter((r) => r.code === code).length;
  }
}

/** DingTalk custom robot: /robot/send?access_token=…[&timestamp&sign]. */
export class FaithfulDingtalk extends Faithful {
  readonly token = randomUUID().replace(/-/g, '');
  readonly secret = 'SEC' + randomUUID().replace(/-/g, '');
  /** Messages must carry one of these words when set (the robot's keyword security). */
  keywords: string[] = [];

  constructor(
    o: FaithfulOptions & { signed?: boolean } = {},
  ) {
    super(o);
    this.signed = o.signed ?? true;
  }
  readonly signed: boolean;

  /** The address the robot's settings page shows. */
  get url(): string {
    return `${this.base}/robot/send?access_token=${this.token}`;
  }

  protected answer(method: string, u: URL, body: Record<string, unknown>, parsed: boolean, size: number, now: number): Record<string, unknown> {
    if (u.pathname !== '/robot/send' || method !== 'POST') return { errcode: 404, errmsg: 'not found' };
    if (u.searchParams.get('access_token') !== this.token) return { errcode: 300001, errmsg: 'token is not exist' };
    if (this.signed) {
      const ts = Number(u.searchParams.get('timestamp'));
      const sign = u.searchParams.get('sign') ?? '';
      if (!Number.isFinite(ts) || Math.abs(now - ts) > 3600_000) return { errcode: 310000, errmsg: 'sign not match, more: timestamp out of range' };
      const want = createHmac('sha256', this.secret).update(`${ts}\n${this.secret}`).digest('base64');
      if (sign !== want) return { errcode: 310000, errmsg: 'sign not match, more: [...]' };
    }
    if (!parsed) return { errcode: 40035, errmsg: '缺少参数 json' };
    if (size > (this.o.maxBody ?? 20_000)) return { errcode: 460101, errmsg: 'message too large, more: [...]' };
    const type = body.msgtype;
    let text = '';
    if (type === 'markdown') {
      const m = body.markdown as { title?: string; text?: string } | undefined;
      if (!m?.title || !m.text) return { errcode: 40035, errmsg: '缺少参数 markdown.title or markdown.text' };
      text = m.title + m.text;
    } else if (type === 'text') {
      const t = body.text as { content?: string } | undefined;
      if (!t?.content) return { errcode: 40035, errmsg: '缺少参数 text.content' };
      text = t.content;
    } else if (type === 'actionCard') {
      const a = body.actionCard as { title?: string; text?: string; singleURL?: string; btns?: unknown[] } | undefined;
      if (!a?.title || !a.text || (!a.singleURL && !a.btns)) return { errcode: 40035, errmsg: '缺少参数 actionCard' };
      text = a.title + a.text;
    } else return { errcode: 40035, errmsg: `不支持的消息类型 ${String(type)}` };
    if (this.keywords.length && !this.keywords.some((k) => text.includes(k))) return { errcode: 310000, errmsg: 'keywords not in content' };
    if (!this.allow(now)) return { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' };
    return { errcode: 0, errmsg: 'ok' };
  }
}

/** WeCom group robot: /cgi-bin/webhook/send?key=UUID. */
export class FaithfulWecom extends Faithful {
  readonly key = randomUUID();

  get url(): string {
    return `${this.base}/cgi-bin/webhook/send?key=${this.key}`;
  }

  protected answer(method: string, u: URL, body: Record<string, unknown>, parsed: boolean, _size: number, now: number): Record<string, unknown> {
    if (u.pathname !== '/cgi-bin/webhook/send' || method !== 'POST') return { errcode: 404, errmsg: 'not found' };
    if (u.searchParams.get('key') !== this.key) return { errcode: 93000, errmsg: 'invalid webhook url' };
    if (!parsed) return { errcode: 40033, errmsg: 'invalid charset. please check your request' };
    const type = body.msgtype;
    if (type === 'markdown') {
      const c = (body.markdown as { content?: string } | undefined)?.content;
      if (typeof c !== 'string' || !c) return { errcode: 40008, errmsg: 'invalid message type' };
      if (Buffer.byteLength(c, 'utf8') > 4096) return { errcode: 40058, errmsg: 'markdown.content exceed max length 4096' };
    } else if (type === 'text') {
      const c = (body.text as { content?: string } | undefined)?.content;
      if (typeof c !== 'string' || !c) return { errcode: 40008, errmsg: 'invalid message type' };
      if (Buffer.byteLength(c, 'utf8') > 2048) return { errcode: 40058, errmsg: 'text.content exceed max length 2048' };
    } else return { errcode: 40008, errmsg: 'invalid message type' };
    if (!this.allow(now)) return { errcode: 45009, errmsg: 'api freq out of limit' };
    return { errcode: 0, errmsg: 'ok' };
  }
}

/** Feishu custom bot: /open-apis/bot/v2/hook/TOKEN, signature in the body. */
export class FaithfulFeishu extends Faithful {
  readonly token = randomUUID();
  readonly secret = randomUUID().replace(/-/g, '').slice(0, 22);

  get url(): string {
    return `${this.base}/open-apis/bot/v2/hook/${this.token}`;
  }

  protected answer(method: string, u: URL, body: Record<string, unknown>, parsed: boolean, size: number, now: number): Record<string, unknown> {
    if (u.pathname !== `/open-apis/bot/v2/hook/${this.token}` || method !== 'POST') return { code: 19001, msg: 'param invalid: incoming webhook access token invalid' };
    if (!parsed) return { code: 9499, msg: 'Bad Request' };
    const ts = Number(body.timestamp);
    if (!Number.isFinite(ts) || Math.abs(now / 1000 - ts) > 3600) return { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' };
    const want = createHmac('sha256', `${String(body.timestamp)}\n${this.secret}`).update('').digest('base64');
    if (body.sign !== want) return { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' };
    if (size > (this.o.maxBody ?? 20 * 1024)) return { code: 9499, msg: 'Bad Request: request body too large (20 KB at most)' };
    const type = body.msg_type;
    if (type === 'interactive') {
      const card = body.card as { elements?: unknown[]; header?: unknown } | undefined;
      if (!card || !Array.isArray(card.elements)) return { code: 19002, msg: 'params error, msg_type need card' };
    } else if (type === 'text') {
      const c = (body.content as { text?: string } | undefined)?.text;
      if (typeof c !== 'string' || !c) return { code: 19002, msg: 'params error, content text required' };
    } else if (type === 'post') {
      const p = (body.content as { post?: Record<string, { content?: unknown[] }> } | undefined)?.post;
      if (!p || !Object.values(p).some((l) => Array.isArray(l.content))) return { code: 19002, msg: 'params error, content post required' };
    } else return { code: 19002, msg: `params error, msg_type ${String(type)} not supported` };
    if (!this.allow(now)) return { code: 11232, msg: 'frequency limited psm[lark.oapi.app_platform_runtime]appID[1]' };
    return { code: 0, msg: 'success', data: {} };
  }
}

/** WeCom application messages (Alertmanager's wechat_configs): gettoken and message/send. */
export class FaithfulWechat extends Faithful {
  readonly corpId = 'ww' + randomUUID().replace(/-/g, '').slice(0, 16);
  readonly secret = randomUUID().replace(/-/g, '');
  readonly agentId = '1000002';
  private tokens = new Map<string, number>();
  /** ms a token lives (7200 s on the real service). */
  tokenTtlMs = 7_200_000;
  tokensIssued = 0;

  /** Lets every token lapse (as when another client got a new one): the next send answers 42001. */
  expireTokens(): void {
    for (const k of this.tokens.keys()) this.tokens.set(k, 0);
  }

  /** Forgets every token (as after a secret reset): the next send answers 40014. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  protected answer(method: string, u: URL, body: Record<string, unknown>, parsed: boolean, _size: number, now: number): Record<string, unknown> {
    if (u.pathname === '/cgi-bin/gettoken' && method === 'GET') {
      if (u.searchParams.get('corpid') !== this.corpId) return { errcode: 40013, errmsg: 'invalid corpid' };
      if (u.searchParams.get('corpsecret') !== this.secret) return { errcode: 40001, errmsg: 'invalid credential' };
      const t = randomUUID().replace(/-/g, '');
      this.tokens.set(t, now + this.tokenTtlMs);
      this.tokensIssued++;
      return { errcode: 0, errmsg: 'ok', access_token: t, expires_in: Math.floor(this.tokenTtlMs / 1000) };
    }
    if (u.pathname === '/cgi-bin/message/send' && method === 'POST') {
      const t = u.searchParams.get('access_token') ?? '';
      const exp = this.tokens.get(t);
      if (exp === undefined) return { errcode: 40014, errmsg: 'invalid access_token' };
      if (exp <= now) return { errcode: 42001, errmsg: 'access_token expired' };
      if (!parsed) return { errcode: 40033, errmsg: 'invalid charset' };
      if (String(body.agentid) !== this.agentId) return { errcode: 40056, errmsg: 'invalid agentid' };
      if (!body.touser && !body.toparty && !body.totag) return { errcode: 40031, errmsg: 'invalid user list' };
      const type = body.msgtype;
      const c = type === 'text' ? (body.text as { content?: string } | undefined)?.content : type === 'markdown' ? (body.markdown as { content?: string } | undefined)?.content : undefined;
      if (typeof c !== 'string' || !c) return { errcode: 40008, errmsg: 'invalid message type' };
      if (Buffer.byteLength(c, 'utf8') > 2048) return { errcode: 40058, errmsg: 'content exceed max length 2048' };
      if (!this.allow(now)) return { errcode: 45009, errmsg: 'api freq out of limit' };
      return { errcode: 0, errmsg: 'ok', msgid: randomUUID() };
    }
    return { errcode: 404, errmsg: 'not found' };
  }
}
