#!/usr/bin/env node
// `npm run bench`: edge-im's benchmark (issue 7). Starts the project with `wrangler dev` on loopback with
// fresh temp state, and a minimal no-persistence Durable Object broadcast baseline (bench/baseline) with
// its own `wrangler dev`, then measures:
//   fanout    a room of N live clients on conversation-bound connections (N = 10, 100, 500), 1 and 10
//             senders, rising rates until loss or latency breaks; the same ladder against the baseline
//             (accept(), the ceiling) and, at N = 100 and 500, against baseline-hib (the same broadcast
//             on the Hibernation API, which the project's objects use: the cost of that API alone)
//   userpath  a group of 50 members on user connections (delivery through UserDOs) beside the same group
//             on conversation-bound connections (the fast path) and the baseline at N = 50
//   history   page latency at the newest message and 100,000 messages back
//   convlist  conversation list of a user with 500 conversations; REST send into many conversations
//   rest      REST send throughput into one conversation
//   idle      memory of the wrangler/workerd processes with 1,000 idle (hibernated) sockets
//   soak      (only with --soak-seconds=N) steady load with clients leaving and joining; errors, memory
// Prints a table and writes bench/results/latest.json. Every step is bounded in time and count; every
// process started here is stopped at the end, on error and on Ctrl-C.
//
// Flags: --quick (N = 10, 100; 10 senders; fewer, shorter steps; about 4.5 minutes) · --only=fanout,userpath,history,convlist,rest,idle,soak
//        --soak-seconds=N · --n=10,100,500 · --senders=1,10 · --step-seconds=S · --p99-limit-ms=MS
//        --factor=F · --max-steps=K · --history-depth=N · --soak-rate=R · --hib-baseline=100,500|none
//        --keep-state (keep the temp state directories)
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execSync } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { startWrangler, migrate, tempDir, installCleanup, cleanup, DEV_VARS, ROOT, projectSnapshot, baselineSnapshot } from "./lib/proc.mjs";
import { Api, mapLimit } from "./lib/api.mjs";
import { Client, openAll, closeAll, runPairedLadder, quiesce, RUN_TAG, parseClientId } from "./lib/load.mjs";
import { summarize, round } from "./lib/stats.mjs";

// ---- options -------------------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, def) => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
};
const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
const QUICK = flag("quick");
if (flag("keep-state")) process.env.KEEP_BENCH_STATE = "1";
const SECTIONS = ["fanout", "userpath", "history", "convlist", "rest", "idle", "soak"];
const SOAK_SECONDS = Number(opt("soak-seconds", "0"));
const only = opt("only", null);
const sections = new Set(only ? list(only) : SECTIONS.filter((s) => s !== "soak" || SOAK_SECONDS > 0));
if (sections.has("soak") && !(SOAK_SECONDS > 0)) {
  console.error("--only=soak needs --soak-seconds=N");
  process.exit(2);
}
for (const s of sections) if (!SECTIONS.includes(s)) throw new Error(`unknown section ${s} (${SECTIONS.join(", ")})`);
const NS = list(opt("n", QUICK ? "10,100" : "10,100,500")).map(Number);
const SENDERS = list(opt("senders", QUICK ? "10" : "1,10")).map(Number);
const STEP_MS = Number(opt("step-seconds", QUICK ? "2" : "3")) * 1000;
const P99_LIMIT = Number(opt("p99-limit-ms", "300"));
const FACTOR = Number(opt("factor", QUICK ? "1.8" : "1.4"));
const MAX_STEPS = Number(opt("max-steps", QUICK ? "4" : "7"));
const HISTORY_DEPTH = Number(opt("history-depth", "100000"));
const CONV_COUNT = Number(opt("conversations", QUICK ? "500" : "500"));
const REST_ONE = Number(opt("rest-messages", QUICK ? "500" : "2000"));
const IDLE_SOCKETS = Number(opt("idle-sockets", "1000"));
const IDLE_WAIT_S = QUICK ? 10 : 20;
const GROUP_SIZE = 50;
/** Room sizes whose ladders also run the baseline on the Hibernation API (`baseline-hib`): the cost of that API alone. */
const HIB_OPT = opt("hib-baseline", QUICK ? "100" : "100,500");
const HIB_NS = HIB_OPT === "none" ? [] : list(HIB_OPT).map(Number);
const WS_RATE = 100_000;
/** Starting total rate (messages/s) of each ladder, by room size. */
const START_RATE = QUICK ? { 10: 2000, 50: 500, 100: 300, 500: 40 } : { 10: 2000, 50: 400, 100: 300, 500: 30 };
const startRate = (n) => START_RATE[n] ?? Math.max(8, Math.round(10_000 / n));

const needsPool = ["fanout", "userpath", "convlist", "idle", "soak"].some((s) => sections.has(s));
const POOL = Math.max(
  sections.has("fanout") ? Math.max(...NS) : 0,
  sections.has("userpath") ? GROUP_SIZE : 0,
  sections.has("convlist") ? (QUICK ? 0 : CONV_COUNT) : 0,
  sections.has("soak") ? 150 : 0,
  sections.has("idle") ? 100 : 0,
  needsPool ? 10 : 0,
);

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
const say = (...a) => console.log(`[${elapsed()}]`, ...a);

const openClients = new Set();
installCleanup(() => {
  for (const c of openClients) c.drop();
});
async function open(clients, concurrency = 16) {
  for (const c of clients) openClients.add(c);
  await openAll(clients, concurrency);
  return clients;
}
async function close(clients) {
  await closeAll(clients);
  for (const c of clients) openClients.delete(c);
}

function gitInfo() {
  try {
    const commit = execSync("git rev-parse --short HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execSync("git status --porcelain -- src", { cwd: ROOT, encoding: "utf8" }).trim().length > 0;
    return { commit, src_dirty: dirty };
  } catch {
    return null;
  }
}

// ---- table ---------------------------------------------------------------------------------------------
function table(rows, cols) {
  const widths = cols.map((c) => Math.max(c.h.length, ...rows.map((r) => String(c.v(r) ?? "-").length)));
  const line = (cells) => cells.map((s, i) => String(s ?? "-").padStart(widths[i])).join("  ");
  const out = [line(cols.map((c) => c.h)), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const r of rows) out.push(line(cols.map((c) => c.v(r))));
  return out.join("\n");
}

const stepLog = (label) => (r) =>
  say(
    `  ${label} rate ${r.rate_offered}/s${r.refinement ? " (refine)" : ""}${r.retry ? " (retry)" : ""}: acked ${r.acked}/${r.sent}, ${r.deliveries_per_s} deliv/s of ${r.offered_deliveries_per_s}, p50 ${r.latency_ms.p50} p99 ${r.latency_ms.p99} max ${r.latency_ms.max} ms, loss ${r.losses}, dup ${r.duplicates}, err ${r.errors}, cpu% client ${r.client_cpu_pct} proxy ${r.server_cpu_pct?.proxy} runtime ${r.server_cpu_pct?.runtime}${r.verdict ? `  → ${r.verdict}` : ""}`,
  );

function ladderSummary(config, target, senders, n, ladder) {
  const s = ladder.sustained;
  const totals = ladder.steps.reduce(
    (a, r) => ({ acked: a.acked + r.acked, deliveries: a.deliveries + r.deliveries, losses: a.losses + r.losses, duplicates: a.duplicates + r.duplicates, out_of_order: a.out_of_order + r.out_of_order, errors: a.errors + r.errors }),
    { acked: 0, deliveries: 0, losses: 0, duplicates: 0, out_of_order: 0, errors: 0 },
  );
  // median CPU ms per 1,000 deliveries over the passing steps, by process role
  const passing = ladder.steps.filter((r) => !r.verdict && r.cpu_ms_per_1k_deliveries);
  const med = (k) => {
    const v = passing.map((r) => r.cpu_ms_per_1k_deliveries[k]).sort((a, b) => a - b);
    return v.length ? v[Math.floor(v.length / 2)] : null;
  };
  return {
    config,
    target,
    n,
    senders,
    cpu_ms_per_1k_deliveries: { runtime: med("runtime"), proxy: med("proxy"), wrangler: med("wrangler"), client: med("client") },
    sustained_msgs_per_s: s?.msgs_per_s ?? 0,
    sustained_rate_offered: s?.rate_offered ?? 0,
    deliveries_per_s: s?.deliveries_per_s ?? 0,
    latency_ms: s?.latency_ms ?? { p50: null, p90: null, p99: null, max: null },
    broke: ladder.broke,
    max_rate_tried: ladder.max_rate_tried,
    ...totals,
    steps: ladder.steps,
  };
}

/** p99 of both at the highest offered rate both passed (the "same rate" comparison). */
function sameRateP99(a, b) {
  const passedA = new Map(a.steps.filter((s) => !s.verdict).map((s) => [s.rate_offered, s]));
  let best = null;
  for (const s of b.steps) if (!s.verdict && passedA.has(s.rate_offered) && (!best || s.rate_offered > best.rate_offered)) best = s;
  if (!best) return null;
  const other = passedA.get(best.rate_offered);
  return { rate: best.rate_offered, p99_a: other.latency_ms.p99, p99_b: best.latency_ms.p99 };
}

// ---- main ----------------------------------------------------------------------------------------------
const results = {
  tool: "edge-im bench (issue 7)",
  started_at: new Date().toISOString(),
  mode: QUICK ? "quick" : "full",
  argv,
  machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model, mem_gb: round(os.totalmem() / 2 ** 30, 1), node: process.version, platform: `${os.platform()} ${os.release()}` },
  git: gitInfo(),
  settings: {
    step_seconds: STEP_MS / 1000,
    rate_factor: FACTOR,
    max_steps: MAX_STEPS,
    p99_break_ms: P99_LIMIT,
    ws_rate_override: `WS_RATE_PER_SECOND=${WS_RATE} WS_RATE_BURST=${WS_RATE} (the per-connection frame limit, default 100/s burst 200, is raised for the bench senders)`,
    wrangler: "4.86.0 (wrangler dev --local, loopback)",
  },
  fanout: [],
  userpath: [],
};

async function main() {
  say(`edge-im bench (${QUICK ? "quick" : "full"}): sections ${[...sections].join(", ")}; run tag ${RUN_TAG}`);
  say(`note: wrangler dev gets --var WS_RATE_PER_SECOND:${WS_RATE} --var WS_RATE_BURST:${WS_RATE} (the default per-socket limit of 100 frames/s would throttle the senders)`);
  // both workers run from private copies: edits to the working tree during a run cannot reload them
  const projectDir = projectSnapshot();
  const persist = tempDir("edge-im-bench-state-");
  migrate(persist, projectDir);
  const needBaseline = sections.has("fanout") || sections.has("userpath");
  const baselineDir = needBaseline ? baselineSnapshot() : null;
  const [main, base] = await Promise.all([
    startWrangler({ label: "project", cwd: projectDir, persistTo: persist, vars: { ...DEV_VARS, WS_RATE_PER_SECOND: WS_RATE, WS_RATE_BURST: WS_RATE } }),
    needBaseline ? startWrangler({ label: "baseline", cwd: baselineDir, config: path.join(baselineDir, "wrangler.toml"), persistTo: tempDir("edge-im-bench-base-"), readyPath: "/" }) : null,
  ]);
  say(`project on ${main.url} (state ${persist}), baseline on ${base?.url ?? "(not needed)"}`);
  results.memory_start = { project: main.memory(), baseline: base?.memory() ?? null };
  const api = new Api(main.url);

  // users
  let users = [];
  if (POOL) {
    const tr = performance.now();
    const names = Array.from({ length: POOL }, (_, i) => `b${RUN_TAG}${i}`);
    users = await mapLimit(names, 8, (u) => api.register(u));
    const secs = (performance.now() - tr) / 1000;
    results.registration = { users: POOL, seconds: round(secs, 1), per_s: round(POOL / secs, 1) };
    say(`registered ${POOL} users in ${secs.toFixed(1)} s (${(POOL / secs).toFixed(0)}/s; PBKDF2 100k iterations each)`);
  }
  const boundUrl = (u, conv, dev = "bench") => `${main.wsUrl}/api/v1/ws?token=${u.token}&room_id=${conv}&device_id=${dev}`;
  const userUrl = (u, dev = "bench") => `${main.wsUrl}/api/v1/ws?token=${u.token}&device_id=${dev}`;
  const baseUrl = (room, mode = "accept") => `${base.wsUrl}/ws?room=${room}&mode=${mode}`;

  /**
   * One configuration: every target's clients connected at once (the baseline's and the project's), then
   * for each sender count a ladder that interleaves the targets rate by rate (runPairedLadder).
   */
  async function paired(config, n, makers, sinks) {
    await quiesce([main, base]);
    const targets = [];
    try {
      for (const { name, make } of makers) {
        const t0 = performance.now();
        const { clients, kind } = await make();
        targets.push({ name, clients, kind, server: name.startsWith("baseline") ? base : main });
        say(`${config}: ${clients.length} ${name} connections open in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
      await sleep(500);
      await quiesce([main, base]); // joins, presence and user_joined broadcasts settle before the first step
      for (const s of SENDERS) {
        if (s > n) continue;
        say(`${config} · ${s} sender(s) · ${targets.map((t) => t.name).join(" vs ")}`);
        const out = await runPairedLadder({
          targets: targets.map((t) => ({ ...t, senders: t.clients.slice(0, s) })),
          start: startRate(n),
          factor: FACTOR,
          maxSteps: MAX_STEPS,
          durationMs: STEP_MS,
          p99LimitMs: P99_LIMIT,
          servers: [main, base],
          log: (t, r) => stepLog(`${t.name}/${s}s`)(r),
        });
        for (const t of targets) sinks.push(ladderSummary(config, t.name, s, n, out[t.name]));
      }
    } finally {
      for (const t of targets) await close(t.clients);
    }
  }

  // ---- fan-out ------------------------------------------------------------------------------------------
  if (sections.has("fanout")) {
    for (const n of NS) {
      const members = users.slice(0, n);
      await paired(
        `room N=${n}`,
        n,
        [
          { name: "baseline", make: async () => ({ clients: await open(members.map((_, i) => new Client(i, baseUrl(`${RUN_TAG}-n${n}`), { kind: "baseline" }))), kind: "baseline" }) },
          ...(HIB_NS.includes(n)
            ? [{ name: "baseline-hib", make: async () => ({ clients: await open(members.map((_, i) => new Client(i, baseUrl(`${RUN_TAG}-h${n}`, "hibernate"), { kind: "baseline" }))), kind: "baseline" }) }]
            : []),
          {
            name: "project",
            make: async () => {
              const room = (await api.must("POST", "/rooms", { token: members[0].token, body: { name: `bench N=${n}`, description: "bench" } }, [201])).body.data.id;
              return { clients: await open(members.map((u, i) => new Client(i, boundUrl(u, room), { kind: "bound" }))), kind: "bound" };
            },
          },
        ],
        results.fanout,
      );
      results.fanout_memory ??= [];
      results.fanout_memory.push({ n, project: main.memory(), baseline: base.memory() });
    }
  }

  // ---- user connections (through UserDOs) beside the fast path ----------------------------------------------
  if (sections.has("userpath")) {
    const members = users.slice(0, GROUP_SIZE);
    const group = (await api.must("POST", "/groups", { token: members[0].token, body: { name: "bench group", join_policy: "open", member_limit: GROUP_SIZE } }, [201])).body.data.group.id;
    await mapLimit(members.slice(1), 8, (u) => api.must("POST", `/groups/${group}/join`, { token: u.token, body: {} }));
    say(`group ${group} with ${GROUP_SIZE} members`);
    const baselineGroup = (tag) => ({ name: "baseline", make: async () => ({ clients: await open(members.map((_, i) => new Client(i, baseUrl(`${RUN_TAG}-g${tag}`), { kind: "baseline" }))), kind: "baseline" }) });
    // the two kinds of connection are measured one after the other: a member online on a user connection
    // also receives the group's messages through the UserDO, which would load the bound measurement
    await paired(
      `group N=${GROUP_SIZE} bound`,
      GROUP_SIZE,
      [baselineGroup("b"), { name: "project", make: async () => ({ clients: await open(members.map((u, i) => new Client(i, boundUrl(u, group, "gb"), { kind: "bound" }))), kind: "bound" }) }],
      results.userpath,
    );
    await paired(
      `group N=${GROUP_SIZE} user conn`,
      GROUP_SIZE,
      [baselineGroup("u"), { name: "project", make: async () => ({ clients: await open(members.map((u, i) => new Client(i, userUrl(u, "gu"), { kind: "user", conversationId: group }))), kind: "user" }) }],
      results.userpath,
    );
  }

  // ---- history ----------------------------------------------------------------------------------------------
  if (sections.has("history")) {
    const owner = users[0] ?? (await api.register(`b${RUN_TAG}h`));
    const room = (await api.must("POST", "/rooms", { token: owner.token, body: { name: "bench history", description: "history" } }, [201])).body.data.id;
    const [writer] = await open([new Client(0, boundUrl(owner, room, "hist"), { kind: "bound" })]);
    const total = HISTORY_DEPTH + 200;
    say(`history: storing ${total} messages in ${room} over one socket (window 500 in flight)`);
    const th = performance.now();
    const pumped = await pump(writer, total, 500, 600_000);
    const pumpS = (performance.now() - th) / 1000;
    await close([writer]);
    say(`  stored ${pumped} in ${pumpS.toFixed(1)} s (${(pumped / pumpS).toFixed(0)} msgs/s, one sender, no listeners)`);
    const newest = await api.must("GET", `/conversations/${room}/messages?limit=50`, { token: owner.token });
    const lastSeq = newest.body.data.last_seq;
    const deepBefore = Math.max(2, lastSeq - HISTORY_DEPTH);
    const near = [];
    const deep = [];
    for (let i = 0; i < 40; i++) {
      const a = await api.must("GET", `/conversations/${room}/messages?limit=50`, { token: owner.token });
      const b = await api.must("GET", `/conversations/${room}/messages?limit=50&before=${deepBefore}`, { token: owner.token });
      if (i >= 5) {
        near.push(a.ms);
        deep.push(b.ms);
      }
      if (i === 0 && b.body.data.messages.length !== 50) throw new Error(`deep page returned ${b.body.data.messages.length} messages`);
    }
    const sn = summarize(near);
    const sd = summarize(deep);
    results.history = {
      conversation: room,
      messages: lastSeq,
      store_seconds: round(pumpS, 1),
      store_msgs_per_s: Math.round(pumped / pumpS),
      page: 50,
      newest_ms: sn,
      back_ms: sd,
      back_by: lastSeq - deepBefore,
      ratio_p50: round(sd.p50 / sn.p50, 2),
    };
    say(`  newest page p50 ${sn.p50} p99 ${sn.p99} ms; page ${lastSeq - deepBefore} back p50 ${sd.p50} p99 ${sd.p99} ms (ratio ${results.history.ratio_p50})`);
  }

  // ---- conversation list and REST send into many ------------------------------------------------------------
  if (sections.has("convlist")) {
    const me = await api.register(`b${RUN_TAG}list`);
    const peers = users.slice(0, CONV_COUNT);
    say(`convlist: opening ${peers.length} DMs for one user`);
    const dms = await mapLimit(peers, 16, async (p) => (await api.must("POST", "/conversations/dm", { token: me.token, body: { user_id: p.id } })).body.data.conversation.id);
    const rooms = CONV_COUNT - dms.length;
    if (rooms > 0) {
      say(`  and ${rooms} rooms (fewer users than conversations in this mode)`);
      dms.push(...(await mapLimit(Array.from({ length: rooms }, (_, i) => i), 16, async (i) => (await api.must("POST", "/rooms", { token: me.token, body: { name: `list ${i}`, description: "list" } }, [201])).body.data.id)));
    }
    const lat = [];
    const tm = performance.now();
    await mapLimit(dms, 16, async (id, i) => {
      const r = await api.must("POST", `/conversations/${id}/messages`, { token: me.token, body: { content: `hello ${i}`, client_id: `${RUN_TAG}-m-${i}` } }, [201]);
      lat.push(r.ms);
    });
    const manyS = (performance.now() - tm) / 1000;
    results.rest_many = { conversations: dms.length, dms: peers.length, concurrency: 16, msgs_per_s: round(dms.length / manyS, 1), latency_ms: summarize(lat) };
    say(`  REST send into ${dms.length} conversations: ${(dms.length / manyS).toFixed(0)} msgs/s, p50 ${results.rest_many.latency_ms.p50} p99 ${results.rest_many.latency_ms.p99} ms`);
    const full = [];
    const small = [];
    let count = 0;
    for (let i = 0; i < 25; i++) {
      const a = await api.must("GET", "/conversations?limit=500", { token: me.token });
      const b = await api.must("GET", "/conversations?limit=20", { token: me.token });
      count = a.body.data.conversations.length;
      if (i >= 5) {
        full.push(a.ms);
        small.push(b.ms);
      }
    }
    results.convlist = { conversations: count, limit_500_ms: summarize(full), limit_20_ms: summarize(small) };
    say(`  conversation list (${count} conversations): limit=500 p50 ${results.convlist.limit_500_ms.p50} p99 ${results.convlist.limit_500_ms.p99} ms; limit=20 p50 ${results.convlist.limit_20_ms.p50} ms`);
    if (count !== dms.length) throw new Error(`conversation list returned ${count}, expected ${dms.length}`);
  }

  // ---- REST send into one conversation ---------------------------------------------------------------------
  if (sections.has("rest")) {
    const a = users[1] ?? (await api.register(`b${RUN_TAG}ra`));
    const b = users[2] ?? (await api.register(`b${RUN_TAG}rb`));
    const dm = (await api.must("POST", "/conversations/dm", { token: a.token, body: { user_id: b.id } })).body.data.conversation.id;
    for (const concurrency of [1, 16]) {
      const n = concurrency === 1 ? Math.min(200, REST_ONE) : REST_ONE;
      const lat = [];
      const tm = performance.now();
      await mapLimit(Array.from({ length: n }, (_, i) => i), concurrency, async (i) => {
        const r = await api.must("POST", `/conversations/${dm}/messages`, { token: a.token, body: { content: `rest ${i}`, client_id: `${RUN_TAG}-r${concurrency}-${i}` } }, [201]);
        lat.push(r.ms);
      });
      const secs = (performance.now() - tm) / 1000;
      (results.rest_one ??= []).push({ conversation: dm, messages: n, concurrency, msgs_per_s: round(n / secs, 1), latency_ms: summarize(lat) });
      say(`rest: ${n} sends into one conversation, concurrency ${concurrency}: ${(n / secs).toFixed(0)} msgs/s, p50 ${summarize(lat).p50} p99 ${summarize(lat).p99} ms`);
    }
  }

  // ---- idle hibernated sockets --------------------------------------------------------------------------------
  if (sections.has("idle")) {
    const devices = Math.ceil(IDLE_SOCKETS / users.length);
    const clients = [];
    for (let d = 0; d < devices && clients.length < IDLE_SOCKETS; d++) {
      for (const u of users) {
        if (clients.length >= IDLE_SOCKETS) break;
        clients.push(new Client(clients.length, userUrl(u, `idle${d}`), { kind: "user" }));
      }
    }
    await sleep(QUICK ? 5000 : 12_000); // let earlier objects go idle before the reference reading
    const before = main.memory();
    const tc = performance.now();
    await open(clients, 16);
    const connectS = (performance.now() - tc) / 1000;
    const afterConnect = main.memory();
    say(`idle: ${clients.length} user connections open in ${connectS.toFixed(1)} s; waiting ${IDLE_WAIT_S} s idle (hibernation)`);
    const samples = [];
    for (let i = 0; i < IDLE_WAIT_S / 5; i++) {
      await sleep(5000);
      samples.push({ t_s: (i + 1) * 5, ...main.memory() });
    }
    const idle = main.memory();
    const alive = clients.filter((c) => c.open_).length;
    // ping a sample to confirm the hibernated sockets still answer
    let answered = 0;
    await Promise.all(
      clients.slice(0, 20).map(
        (c) =>
          new Promise((resolve) => {
            const t = setTimeout(resolve, 5000);
            c.ws.once("message", () => {
              answered += 1;
              clearTimeout(t);
              resolve();
            });
            c.send({ type: "ping" });
          }),
      ),
    );
    await close(clients);
    await sleep(3000);
    const afterClose = main.memory();
    const perSocket = (k) => round(((idle[k] - before[k]) * 1024) / clients.length / 1024, 1);
    results.idle = {
      sockets: clients.length,
      still_open_after_idle: alive,
      ping_answered: `${answered}/20`,
      connect_seconds: round(connectS, 1),
      memory_kb: { before, after_connect: afterConnect, after_idle: idle, idle_seconds: IDLE_WAIT_S, after_close: afterClose, samples },
      per_socket_kb: { total: perSocket("totalKb"), workerd: perSocket("workerdKb"), runtime: perSocket("runtimeKb") },
    };
    say(`  RSS before ${(before.totalKb / 1024).toFixed(0)} MB (workerd ${(before.workerdKb / 1024).toFixed(0)}), idle with ${clients.length} sockets ${(idle.totalKb / 1024).toFixed(0)} MB (workerd ${(idle.workerdKb / 1024).toFixed(0)}): ${results.idle.per_socket_kb.workerd} kB per socket in workerd, ${results.idle.per_socket_kb.total} kB over the tree; ${alive} still open, ${answered}/20 answered a ping`);
  }

  // ---- soak -------------------------------------------------------------------------------------------------
  if (sections.has("soak")) results.soak = await soak(api, main, users, boundUrl);

  results.memory_end = { project: main.memory(), baseline: base?.memory() ?? null };
  results.finished_at = new Date().toISOString();
  results.seconds = Math.round((Date.now() - t0) / 1000);
  report();
}

/** Sends `total` messages from one client keeping at most `window` unacknowledged; bounded by maxMs. */
async function pump(client, total, window, maxMs) {
  let sent = 0;
  let acked = 0;
  let failed = 0;
  const deadline = performance.now() + maxMs;
  await new Promise((resolve) => {
    const fill = () => {
      while (sent < total && sent - acked - failed < window) {
        client.sendMessage(0, sent, "bound");
        sent += 1;
      }
      if (acked + failed >= total || performance.now() > deadline) resolve();
    };
    client.onAck = () => {
      acked += 1;
      fill();
    };
    client.onError = () => {
      failed += 1;
      fill();
    };
    const watchdog = setInterval(() => {
      if (performance.now() > deadline || acked + failed >= total) {
        clearInterval(watchdog);
        resolve();
      }
    }, 250);
    fill();
  });
  client.onAck = client.onError = null;
  client.inflight.clear();
  if (failed) throw new Error(`history pump: ${failed} sends failed (${client.errors.slice(-3).join("; ")})`);
  return acked;
}

/**
 * Steady load on a room of 100 bound clients (10 senders) while other clients leave and come back: a
 * leaver reconnects after 0.5-3 s and syncs from the last seq it saw; every few seconds a new member joins.
 * Reports errors, latency and memory over time, and checks at the end that every client holds every seq
 * from its first one to the last exactly once.
 */
async function soak(api, main, users, boundUrl) {
  const seconds = SOAK_SECONDS;
  const rate = Number(opt("soak-rate", "100"));
  const base = users.slice(0, 100);
  const spare = users.slice(100, 150);
  const room = (await api.must("POST", "/rooms", { token: base[0].token, body: { name: "bench soak", description: "soak" } }, [201])).body.data.id;
  const clients = await open(base.map((u, i) => new Client(i, boundUrl(u, room, "soak"), { kind: "bound" })));
  const senders = clients.slice(0, 10);
  const churners = clients.slice(10);
  for (const c of clients) c.firstSeq = null;
  const noteFirst = (c) => (x) => {
    if (c.firstSeq === null) c.firstSeq = x.seq;
  };
  for (const c of clients) c.onMessage = c.onAck = noteFirst(c);
  say(`soak: ${seconds} s, room ${room}, 100 clients, 10 senders at ${rate} msgs/s total, churn ~2 clients/s, a new member every 5 s`);
  const timeline = [];
  let reconnects = 0;
  let joins = 0;
  let syncErrors = 0;
  let sendErrors = 0;
  let n = 0;
  const lat = [];
  const endAt = performance.now() + seconds * 1000;
  const startAt = performance.now();
  let window = { deliveries: 0, lat: [] };
  const all = [...clients];
  const live = (x) => {
    window.deliveries += 1;
    if (x.replay) return;
    const id = parseClientId(x.clientId);
    if (id) window.lat.push(performance.now() - id.t0);
  };
  for (const c of all) {
    const prev = c.onMessage;
    c.onMessage = (x) => {
      prev(x);
      live(x);
    };
  }
  const sendTimer = setInterval(() => {
    const due = Math.floor(((performance.now() - startAt) * rate) / 1000);
    while (n < due) {
      const s = senders[n % senders.length];
      if (s.open_) s.sendMessage(999999, n, "bound");
      n += 1;
    }
  }, 5);
  const churnTimer = setInterval(() => {
    const c = churners[Math.floor(Math.random() * churners.length)];
    if (!c.open_ || c.rejoining) return;
    c.rejoining = true;
    const cursor = c.maxSeq;
    c.drop();
    setTimeout(async () => {
      try {
        await c.open(15_000);
        await c.sync(room, cursor, 20_000);
        reconnects += 1;
      } catch (err) {
        syncErrors += 1;
      } finally {
        c.rejoining = false;
      }
    }, 500 + Math.random() * 2500);
  }, 500);
  const joinTimer = setInterval(async () => {
    const u = spare.shift();
    if (!u) return;
    const c = new Client(all.length, boundUrl(u, room, "soak"), { kind: "bound" });
    c.firstSeq = null;
    c.onMessage = (x) => {
      if (c.firstSeq === null) c.firstSeq = x.seq;
      live(x);
    };
    all.push(c);
    openClients.add(c);
    try {
      await c.open(15_000);
      joins += 1;
    } catch {
      syncErrors += 1;
    }
  }, 5000);
  while (performance.now() < endAt) {
    await sleep(Math.min(10_000, Math.max(0, endAt - performance.now())));
    const m = main.memory();
    const errs = all.reduce((s, c) => s + c.errors.length, 0);
    const wl = summarize(window.lat);
    timeline.push({ t_s: Math.round((performance.now() - startAt) / 1000), rss_total_mb: round(m.totalKb / 1024, 1), rss_workerd_mb: round(m.workerdKb / 1024, 1), deliveries_window: window.deliveries, p50_ms: wl.p50, p99_ms: wl.p99, sent: n, reconnects, joins, errors: errs + syncErrors });
    say(`  soak t=${timeline.at(-1).t_s}s rss ${timeline.at(-1).rss_total_mb} MB (workerd ${timeline.at(-1).rss_workerd_mb}), sent ${n}, deliveries in window ${window.deliveries}, p50 ${wl.p50} p99 ${wl.p99} ms, reconnects ${reconnects}, joins ${joins}, errors ${errs + syncErrors}`);
    window = { deliveries: 0, lat: [] };
  }
  clearInterval(sendTimer);
  clearInterval(churnTimer);
  clearInterval(joinTimer);
  // drain: every open client catches up with a final sync from its own cursor
  await sleep(3000);
  for (let i = 0; i < 100 && all.some((c) => c.rejoining); i++) await sleep(100);
  const last = Math.max(...all.map((c) => c.maxSeq));
  let gaps = 0;
  let dups = 0;
  let overlaps = 0;
  let checked = 0;
  for (const c of all) {
    if (!c.open_ || c.firstSeq === null) continue;
    try {
      await c.sync(room, c.maxSeq, 20_000);
    } catch {
      syncErrors += 1;
    }
    checked += 1;
    dups += c.dups;
    overlaps += c.overlaps;
    for (let s = c.firstSeq; s <= last; s++) if (!c.has(s)) gaps += 1;
  }
  sendErrors = all.reduce((s, c) => s + c.errors.length, 0);
  await close(all);
  return { seconds, rate, room, last_seq: last, reconnects, joins, clients_checked: checked, missing: gaps, duplicates: dups, replay_overlaps: overlaps, errors: sendErrors, sync_errors: syncErrors, timeline };
}

// ---- report --------------------------------------------------------------------------------------------
function report() {
  const rows = [...results.fanout, ...results.userpath];
  const versus = (r, b) => {
    const same = sameRateP99(b, r);
    return {
      ratio: b.deliveries_per_s ? round(r.deliveries_per_s / b.deliveries_per_s, 2) : null,
      same: same ? { rate: same.rate, p99_baseline: same.p99_a, p99: same.p99_b, ratio: same.p99_a ? round(same.p99_b / same.p99_a, 1) : null } : null,
    };
  };
  const peer = (r, target) => rows.find((x) => x.target === target && x.n === r.n && x.senders === r.senders && x.config === r.config);
  for (const r of rows) {
    if (r.target === "baseline") continue;
    const b = peer(r, "baseline");
    if (b) ({ ratio: r.ratio_deliveries, same: r.same_rate } = versus(r, b));
    // the project beside the same broadcast on the Hibernation API, which the project's objects use
    const h = r.target === "project" ? peer(r, "baseline-hib") : null;
    if (h) ({ ratio: r.ratio_deliveries_hib, same: r.same_rate_hib } = versus(r, h));
  }
  const sameCell = (s) => (s ? `${s.p99}/${s.p99_baseline}ms@${s.rate}` : "-");
  const cols = [
    { h: "configuration", v: (r) => r.config },
    { h: "target", v: (r) => r.target },
    { h: "snd", v: (r) => r.senders },
    { h: "msg/s", v: (r) => r.sustained_msgs_per_s },
    { h: "deliv/s", v: (r) => r.deliveries_per_s },
    { h: "p50", v: (r) => r.latency_ms.p50 },
    { h: "p90", v: (r) => r.latency_ms.p90 },
    { h: "p99", v: (r) => r.latency_ms.p99 },
    { h: "max", v: (r) => r.latency_ms.max },
    { h: "acked", v: (r) => r.acked },
    { h: "deliveries", v: (r) => r.deliveries },
    { h: "lost", v: (r) => r.losses },
    { h: "dup", v: (r) => r.duplicates },
    { h: "x base", v: (r) => (r.ratio_deliveries ?? (r.target === "baseline" ? "1" : "-")) },
    { h: "p99 same rate", v: (r) => sameCell(r.same_rate) },
    { h: "x hib", v: (r) => r.ratio_deliveries_hib ?? "-" },
    { h: "p99 vs hib", v: (r) => sameCell(r.same_rate_hib) },
    { h: "rt cpu/1k", v: (r) => r.cpu_ms_per_1k_deliveries?.runtime },
    { h: "stopped by", v: (r) => `${r.broke ?? "max rate"}@${r.max_rate_tried}` },
    { h: "steps", v: (r) => r.steps.length },
  ];
  if (rows.length) console.log("\n=== realtime fan-out (sustained = best step with zero loss/dup, p99 ≤ limit, keeping up; latency ms at that step; acked/deliveries/lost/dup summed over every step; x base / p99 same rate: against the baseline (accept(), the ceiling); x hib / p99 vs hib: the project against baseline-hib, the same broadcast on the Hibernation API; rt cpu/1k = runtime workerd CPU ms per 1,000 deliveries, median of passing steps) ===");
  if (rows.length) console.log(table(rows, cols));
  // targets
  const checks = [];
  const allRows = rows.filter((r) => r.target === "project");
  checks.push({ target: "zero loss and zero duplicates (every configuration, every step)", ok: rows.every((r) => r.losses === 0 && r.duplicates === 0), detail: rows.filter((r) => r.losses || r.duplicates).map((r) => `${r.config}/${r.target}/${r.senders}s: lost ${r.losses} dup ${r.duplicates}`).join("; ") || "none" });
  checks.push({ target: "live messages in seq order at every client", ok: rows.every((r) => r.out_of_order === 0), detail: rows.filter((r) => r.out_of_order).map((r) => `${r.config}/${r.target}/${r.senders}s: ${r.out_of_order}`).join("; ") || "none" });
  for (const n of [100, 500]) {
    const r = allRows.find((x) => x.n === n && x.senders === 10 && x.config.startsWith("room"));
    if (!r) continue;
    checks.push({ target: `N=${n}, 10 senders: deliveries/s ≥ 0.8 × baseline`, ok: (r.ratio_deliveries ?? 0) >= 0.8, detail: `${r.deliveries_per_s} vs baseline → ${r.ratio_deliveries}` });
    checks.push({ target: `N=${n}, 10 senders: p99 ≤ 2 × baseline at the same rate`, ok: r.same_rate ? (r.same_rate.ratio ?? 99) <= 2 : false, detail: r.same_rate ? `${r.same_rate.p99} vs ${r.same_rate.p99_baseline} ms at ${r.same_rate.rate} msgs/s → ${r.same_rate.ratio}x` : "no common passing rate" });
    if (r.ratio_deliveries_hib !== undefined) {
      const s = r.same_rate_hib;
      checks.push({ info: true, target: `N=${n}, 10 senders, beside baseline-hib (same broadcast, Hibernation API)`, detail: `deliveries ${r.ratio_deliveries_hib}x; p99 ${s ? `${s.p99} vs ${s.p99_baseline} ms at ${s.rate} msgs/s → ${s.ratio}x` : "no common passing rate"}` });
    }
  }
  if (results.history) checks.push({ target: "history: newest page ≈ page 100,000 back", ok: results.history.ratio_p50 <= 1.5, detail: `p50 ${results.history.newest_ms.p50} vs ${results.history.back_ms.p50} ms (${results.history.back_by} back)` });
  results.targets = checks;

  console.log("\n=== other measurements ===");
  if (results.history) console.log(`history (${results.history.messages} messages, page of 50): newest p50 ${results.history.newest_ms.p50} / p99 ${results.history.newest_ms.p99} ms; ${results.history.back_by} back p50 ${results.history.back_ms.p50} / p99 ${results.history.back_ms.p99} ms; stored at ${results.history.store_msgs_per_s} msgs/s over one socket`);
  if (results.convlist) console.log(`conversation list (${results.convlist.conversations} conversations): limit=500 p50 ${results.convlist.limit_500_ms.p50} / p99 ${results.convlist.limit_500_ms.p99} ms; limit=20 p50 ${results.convlist.limit_20_ms.p50} / p99 ${results.convlist.limit_20_ms.p99} ms`);
  if (results.rest_many) console.log(`REST send into ${results.rest_many.conversations} conversations (concurrency ${results.rest_many.concurrency}): ${results.rest_many.msgs_per_s} msgs/s, p50 ${results.rest_many.latency_ms.p50} / p99 ${results.rest_many.latency_ms.p99} ms`);
  for (const r of results.rest_one ?? []) console.log(`REST send into one conversation (concurrency ${r.concurrency}, ${r.messages} msgs): ${r.msgs_per_s} msgs/s, p50 ${r.latency_ms.p50} / p99 ${r.latency_ms.p99} ms`);
  if (results.idle) console.log(`idle: ${results.idle.sockets} hibernated user connections: ${results.idle.per_socket_kb.workerd} kB/socket in workerd (${results.idle.per_socket_kb.total} kB over wrangler+workerd); RSS ${Math.round(results.idle.memory_kb.before.totalKb / 1024)} → ${Math.round(results.idle.memory_kb.after_idle.totalKb / 1024)} MB; ${results.idle.still_open_after_idle} open after idle, ping ${results.idle.ping_answered}`);
  if (results.soak) console.log(`soak ${results.soak.seconds} s: ${results.soak.reconnects} reconnects, ${results.soak.joins} joins, missing ${results.soak.missing}, duplicates ${results.soak.duplicates}, live/replay overlaps ${results.soak.replay_overlaps}, errors ${results.soak.errors}, sync errors ${results.soak.sync_errors}; RSS ${results.soak.timeline.map((t) => t.rss_total_mb).join(" → ")} MB`);
  if (checks.length) {
    console.log("\n=== targets (ARCHITECTURE.md) ===");
    for (const c of checks) console.log(`${c.info ? "INFO" : c.ok ? "PASS" : "FAIL"}  ${c.target}: ${c.detail}`);
  }
  const dir = path.join(ROOT, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "latest.json");
  writeFileSync(file, JSON.stringify(results, null, 2));
  writeFileSync(path.join(dir, `bench-${results.started_at.replace(/[:.]/g, "-")}.json`), JSON.stringify(results, null, 2));
  console.log(`\nresults written to ${file} (${results.seconds} s)`);
}

try {
  await main();
} catch (err) {
  console.error("bench failed:", err?.stack ?? err);
  process.exitCode = 1;
} finally {
  for (const c of openClients) c.drop();
  await cleanup();
}
process.exit(process.exitCode ?? 0);
