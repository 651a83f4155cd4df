// Chat robots under load, against the faithful DingTalk server (src/notify/chat/faithful.ts).
//
// 1. A burst of 500 alert groups to one DingTalk robot that enforces 20 messages per window.
//    The window is 1 s here instead of DingTalk's 60 s (the server and Patrol's limiter are given
//    the same window; the limiter's logic does not depend on its length), so the run takes
//    seconds, not minutes. Counted: messages, the most in any window, 130101 answers, and every
//    alert found in the delivered text or in an "N more alerts" note.
// 2. A receiver whose robot hangs for 30 s next to one that answers: the second one's delivery
//    time with and without the hanging one in flight.

import { ROBOT_RATES, type ChatRobot } from '../src/notify/chat/base.js';
import { FaithfulDingtalk } from '../src/notify/chat/faithful.js';
import { integrationsOf, notifyContext, sampleAlert } from '../src/notify/chat/testkit.js';

const WINDOW = 1000;
const LIMIT = 20;
const GROUPS = 500;

function textOf(b: Record<string, unknown>): string {
  return (b.markdown as { text: string }).text;
}

async function burst(): Promise<void> {
  ROBOT_RATES.dingtalk = { limit: LIMIT, windowMs: WINDOW };
  const srv = await new FaithfulDingtalk({ limit: LIMIT, windowMs: WINDOW }).start();
  const [r] = integrationsOf(`{name: team, dingtalk_configs: [{url: "${srv.url}", secret: "${srv.secret}"}]}`) as ChatRobot[];
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: GROUPS }, (_, i) =>
      r.notify(notifyContext(`{}:{alertname="Burst${i}"}`, { groupLabels: { alertname: `Burst${i}` } }), [
        sampleAlert({ alertname: `Burst${i}`, severity: i % 10 === 0 ? 'critical' : 'warning', instance: `10.0.${Math.floor(i / 250)}.${i % 250}:9100` }, { annotations: { summary: `disk ${i} is 91% full`, value: '0.91' } }),
      ]),
    ),
  );
  const elapsed = performance.now() - t0;
  const ok = results.filter((x) => x.ok).length;
  const delivered = srv.received.filter((x) => x.code === 0);
  const text = delivered.map((x) => textOf(x.body)).join('\n');
  let shown = 0;
  for (let i = 0; i < GROUPS; i++) if (text.includes(`**Burst${i}**`)) shown++;
  const noted = [...text.matchAll(/… (\d+) more alerts? left out/g)].reduce((n, m) => n + Number(m[1]), 0);
  let maxInWindow = 0;
  const at = srv.received.map((x) => x.at);
  for (let i = 0; i < at.length; i++) maxInWindow = Math.max(maxInWindow, at.filter((t) => t > at[i] - WINDOW && t <= at[i]).length);
  console.log(`burst: ${GROUPS} alert groups to one DingTalk robot (limit ${LIMIT} per ${WINDOW} ms window, standing for DingTalk's 20 per 60 s)`);
  console.log(`  notify results ok: ${ok}/${GROUPS}; messages sent: ${srv.received.length} (${delivered.length} accepted), most in one window: ${maxInWindow}`);
  console.log(`  130101 answers: ${srv.count(130101)}; largest merge: ${r.stats.largestBatch} groups in one message; max message ${Math.max(...delivered.map((x) => x.bytes))} bytes`);
  console.log(`  alerts shown in full: ${shown}; counted in "N more alerts" notes: ${noted}; dropped: ${GROUPS - shown - noted}`);
  console.log(`  all delivered after ${elapsed.toFixed(0)} ms (${(elapsed / WINDOW).toFixed(2)} windows)`);
  await r.close?.();
  await srv.stop();
  ROBOT_RATES.dingtalk = { limit: 20, windowMs: 60_000 };
}

async function hang(): Promise<void> {
  const hanging = await new FaithfulDingtalk({ hangMs: 30_000 }).start();
  const fine = await new FaithfulDingtalk({ limit: 1_000_000 }).start();
  ROBOT_RATES.dingtalk = { limit: 1_000_000, windowMs: 60_000 };
  const [h] = integrationsOf(`{name: stuck, dingtalk_configs: [{url: "${hanging.url}", secret: "${hanging.secret}"}]}`);
  const [f] = integrationsOf(`{name: fine, dingtalk_configs: [{url: "${fine.url}", secret: "${fine.secret}"}]}`);
  const measure = async (n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const res = await f.notify(notifyContext(`fine${i}-${Math.random()}`), [sampleAlert({ alertname: `Fine${i}` })]);
      if (!res.ok) throw new Error(JSON.stringify(res));
      out.push(performance.now() - t);
    }
    return out.sort((a, b) => a - b);
  };
  await measure(20);
  const base = await measure(50);
  const stuck = Array.from({ length: 5 }, (_, i) => h.notify(notifyContext(`stuck${i}`, { signal: AbortSignal.timeout(30_000) }), [sampleAlert({ alertname: `Stuck${i}` })]));
  await new Promise((r) => setTimeout(r, 200));
  const during = await measure(50);
  const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))];
  console.log(`hang: receiver "fine" while receiver "stuck" has 5 notifications hanging on a robot that answers after 30 s`);
  console.log(`  fine's delivery, alone: p50 ${q(base, 0.5).toFixed(1)} ms, p99 ${q(base, 0.99).toFixed(1)} ms, max ${base.at(-1)!.toFixed(1)} ms`);
  console.log(`  fine's delivery, with stuck hanging: p50 ${q(during, 0.5).toFixed(1)} ms, p99 ${q(during, 0.99).toFixed(1)} ms, max ${during.at(-1)!.toFixed(1)} ms`);
  console.log(`  added delay (max during − max alone): ${(during.at(-1)! - base.at(-1)!).toFixed(1)} ms (target: under 100 ms)`);
  await hanging.stop();
  await Promise.allSettled(stuck);
  await h.close?.();
  await f.close?.();
  await fine.stop();
  ROBOT_RATES.dingtalk = { limit: 20, windowMs: 60_000 };
}

await burst();
await hang();
