// WebSocket client pool and the load driver: open-loop senders at a fixed total rate, receivers that
// record every seq they see (duplicates, order, losses after a drain) and the send→receive latency
// read from the timestamp embedded in each message's client_id (all clients share this process's clock).
import WebSocket from "ws";
import { setTimeout as sleep } from "node:timers/promises";
import { openSocket, safeParse } from "./socket.mjs";
import { Samples, summarize, round } from "./stats.mjs";

const RUN_TAG = Math.floor(Math.random() * 36 ** 4).toString(36);
let stepCounter = 0;
export const LIVE = 1;
export const REPLAY = 2;
export const ACK = 4;
/** The step whose counters receivers update (one step runs at a time). */
let current = null;

/**
 * Fast extraction of the fields the bench needs from a server frame. Message frames (project and baseline)
 * are `{"success":true,"message":…,"data":{"type":…,…,"seq":N,…,"client_id":"…",…}}`; anything else is
 * parsed fully.
 */
function extract(s) {
  const ti = s.indexOf('"type":"');
  if (ti < 0) return null;
  const te = s.indexOf('"', ti + 8);
  const type = s.slice(ti + 8, te);
  if (type !== "message_received" && type !== "message_sent") return { type, frame: safeParse(s) };
  const si = s.indexOf('"seq":', te);
  let seq = 0;
  for (let i = si + 6; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    seq = seq * 10 + c;
  }
  const ci = s.indexOf('"client_id":"', te);
  const clientId = ci < 0 ? null : s.slice(ci + 13, s.indexOf('"', ci + 13));
  const replay = type === "message_received" && s.includes('"replay":true');
  return { type, seq, clientId, replay };
}

/** Parses `tag:step:sender:n:t0` client ids. */
export function parseClientId(id) {
  if (!id) return null;
  const p = id.split(":");
  if (p.length !== 5 || p[0] !== RUN_TAG) return null;
  return { step: Number(p[1]), sender: Number(p[2]), n: Number(p[3]), t0: Number(p[4]) };
}

export class Client {
  /**
   * @param {number} idx  index in its pool
   * @param {string} url  ws:// URL (project: token, room_id, device_id; baseline: room)
   * @param {object} opts {conversationId (for user connections), kind: "bound" | "user" | "baseline"}
   */
  constructor(idx, url, opts = {}) {
    this.idx = idx;
    this.url = url;
    this.conversationId = opts.conversationId;
    this.kind = opts.kind ?? "bound";
    this.seen = new Uint8Array(1024);
    this.maxSeq = 0;
    this.lastLive = 0;
    this.dups = 0;
    this.overlaps = 0;
    this.outOfOrder = 0;
    this.received = 0;
    this.replayed = 0;
    this.errors = [];
    this.unexpectedClose = 0;
    this.ws = null;
    this.open_ = false;
    this.syncWaiter = null;
    this.inflight = new Map(); // client_id → t0 (sender side)
    this.sent = 0;
    this.frames = 0;
  }

  /** Records a seq with how it came (LIVE, REPLAY or ACK); returns the flags it had before. */
  mark(seq, how) {
    if (seq >= this.seen.length) {
      let n = this.seen.length;
      while (n <= seq) n *= 2;
      const next = new Uint8Array(n);
      next.set(this.seen);
      this.seen = next;
    }
    const before = this.seen[seq];
    this.seen[seq] = before | how;
    if (seq > this.maxSeq) this.maxSeq = seq;
    return before;
  }

  has(seq) {
    return seq < this.seen.length && this.seen[seq] > 0;
  }

  /** Opens the socket and resolves on the server's first frame (authenticated / hello). */
  open(timeoutMs = 20_000) {
    this.closing = false;
    this.lastLive = 0; // live order is checked per connection
    return openSocket(this.url, {
      timeoutMs,
      label: `client ${this.idx}`,
      first: (s) => {
        const f = safeParse(s);
        return !!(f && f.success && (f.data?.type === "authenticated" || f.data?.type === "hello"));
      },
      adopt: (ws) => (this.ws = ws),
      current: () => this.ws,
      onFrame: (s) => this.onFrame(s),
      onClose: (code) => {
        if (this.open_ && !this.closing) this.unexpectedClose += 1;
        this.open_ = false;
        this.lastCloseCode = code;
        if (this.syncWaiter) this.syncWaiter.reject(new Error(`client ${this.idx}: closed (${code}) during sync`));
      },
    }).then(() => {
      this.open_ = true;
      return this;
    });
  }

  onFrame(s) {
    this.frames += 1;
    const x = extract(s);
    if (!x) return;
    const step = current;
    if (x.type === "message_received") {
      const before = this.mark(x.seq, x.replay ? REPLAY : LIVE);
      this.received += 1;
      if (x.replay) {
        this.replayed += 1;
        // the same seq twice in replays is a duplicate; a replay of something that came live is an overlap
        if (before & REPLAY) this.dups += 1;
        else if (before) this.overlaps += 1;
      } else {
        if (before & (LIVE | ACK)) this.dups += 1;
        else if (before & REPLAY) this.overlaps += 1;
        if (x.seq < this.lastLive) this.outOfOrder += 1;
        this.lastLive = x.seq;
      }
      const id = parseClientId(x.clientId);
      if (step && id && id.step === step.id) {
        step.delivered += 1;
        const now = performance.now();
        step.lat.add(now - id.t0);
        if (now > step.lastDelivery) step.lastDelivery = now;
      }
      this.onMessage?.(x);
      return;
    }
    if (x.type === "message_sent") {
      const t0 = this.inflight.get(x.clientId);
      if (t0 !== undefined) this.inflight.delete(x.clientId);
      this.mark(x.seq, ACK);
      const id = parseClientId(x.clientId);
      if (step && id && id.step === step.id && t0 !== undefined) {
        const now = performance.now();
        step.acked += 1;
        step.ackLat.add(now - t0);
        step.ackedSeqs.push(x.seq);
        step.ackedFrom.push(this.idx);
        if (now > step.lastAck) step.lastAck = now;
      }
      this.onAck?.(x);
      return;
    }
    if (x.type === "sync_done") {
      const w = this.syncWaiter;
      this.syncWaiter = null;
      w?.resolve(x.frame);
      return;
    }
    const f = x.frame;
    if (f && f.success === false) {
      this.errors.push(f.error ?? f.message);
      if (step) step.errors += 1;
      if (f.client_id) this.inflight.delete(f.client_id);
      this.onError?.(f);
    }
  }

  send(obj) {
    this.ws.send(JSON.stringify(obj));
  }

  /** Sends one bench message stamped with the step, this sender and the send time. */
  sendMessage(stepId, n, kind = this.kind) {
    const t0 = performance.now();
    const clientId = `${RUN_TAG}:${stepId}:${this.idx}:${n}:${t0.toFixed(2)}`;
    const frame = { type: "send_message", content: `bench ${stepId}/${n} from ${this.idx}`, client_id: clientId };
    if (kind === "user") frame.conversation_id = this.conversationId;
    this.inflight.set(clientId, t0);
    this.sent += 1;
    this.ws.send(JSON.stringify(frame));
    return clientId;
  }

  /** Sends `sync` from a cursor and resolves on sync_done (bounded). */
  sync(conversationId, cursor, timeoutMs = 30_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.syncWaiter = null;
        reject(new Error(`client ${this.idx}: no sync_done within ${timeoutMs} ms`));
      }, timeoutMs);
      this.syncWaiter = {
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.send({ type: "sync", cursors: { [conversationId]: cursor } });
    });
  }

  /** Closes and resolves when closed (terminates after 3 s). */
  close() {
    return new Promise((resolve) => {
      const ws = this.ws;
      this.closing = true;
      if (!ws || ws.readyState === WebSocket.CLOSED) return resolve();
      const timer = setTimeout(() => {
        try {
          ws.terminate();
        } catch {
          // ignore
        }
        resolve();
      }, 3000);
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      try {
        ws.close(1000, "bench done");
      } catch {
        clearTimeout(timer);
        resolve();
      }
    }).then(() => {
      this.open_ = false;
      this.closing = false;
    });
  }

  /** Drops the TCP connection without a close handshake (a client that vanishes). */
  drop() {
    this.closing = true;
    try {
      this.ws.terminate();
    } catch {
      // ignore
    }
    this.open_ = false;
  }
}

/** Opens clients with bounded concurrency; throws on the first failure (after closing the others). */
export async function openAll(clients, concurrency = 16, timeoutMs = 30_000) {
  let next = 0;
  let failed = null;
  const workers = Array.from({ length: Math.min(concurrency, clients.length) }, async () => {
    while (next < clients.length && !failed) {
      const c = clients[next++];
      try {
        await c.open(timeoutMs);
      } catch (err) {
        failed ??= err;
      }
    }
  });
  await Promise.all(workers);
  if (failed) {
    await closeAll(clients);
    throw failed;
  }
  return clients;
}

export async function closeAll(clients) {
  await Promise.all(clients.map((c) => c.close()));
}

/**
 * One load step: `rate` messages/s in total, round-robin over `senders`, for `durationMs`; then waits
 * (at most drainMs) until every message is acknowledged and delivered to every other client; then
 * counts losses (acknowledged messages a client never received), duplicates and latency.
 */
export async function runStep({ clients, senders, rate, durationMs, drainMs = 10_000, maxInflightTotal = 2000, kind, server }) {
  // open loop, but never more than maxInflightTotal unacknowledged messages in all: past that the step
  // stops as "backlog" instead of queueing tens of thousands of frames the server then has to chew through
  const maxInflight = Math.max(50, Math.ceil(maxInflightTotal / senders.length));
  const step = {
    id: ++stepCounter,
    rate,
    sent: 0,
    acked: 0,
    errors: 0,
    delivered: 0,
    lat: new Samples(1 << 18),
    ackLat: new Samples(1 << 14),
    ackedSeqs: [],
    ackedFrom: [],
    lastDelivery: 0,
    lastAck: 0,
    backlogged: false,
  };
  const receivers = clients.length - 1; // every client but the sender's own connection
  const dupsBefore = clients.reduce((s, c) => s + c.dups, 0);
  const oooBefore = clients.reduce((s, c) => s + c.outOfOrder, 0);
  const closesBefore = clients.reduce((s, c) => s + c.unexpectedClose, 0);
  current = step;
  const cpu0 = process.cpuUsage();
  const srv0 = server?.cpu();
  const start = performance.now();
  const counters = new Array(senders.length).fill(0);
  let k = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      const elapsed = now - start;
      const due = Math.min(Math.floor((Math.min(elapsed, durationMs) * rate) / 1000) + 1, Math.ceil((durationMs * rate) / 1000));
      let budget = Math.max(1, Math.ceil(rate / 50)); // at most 20 ms of messages per tick, to avoid giant bursts
      while (step.sent < due && budget-- > 0) {
        const si = k % senders.length;
        const s = senders[si];
        k += 1;
        if (!s.open_) continue;
        if (s.inflight.size >= maxInflight) {
          step.backlogged = true;
          continue;
        }
        s.sendMessage(step.id, counters[si]++, kind);
        step.sent += 1;
      }
      if (elapsed >= durationMs || step.backlogged) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const sendEnd = performance.now();
  const drainDeadline = sendEnd + drainMs;
  while (performance.now() < drainDeadline) {
    const pending = senders.reduce((s, c) => s + c.inflight.size, 0);
    if (pending === 0 && step.delivered >= step.acked * receivers) break;
    await sleep(20);
  }
  await sleep(100); // late duplicates
  current = null;
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - start;
  const srv1 = server?.cpu();
  // losses: acknowledged messages some other client never received
  let losses = 0;
  const lostBy = new Map();
  for (let i = 0; i < step.ackedSeqs.length; i++) {
    const seq = step.ackedSeqs[i];
    const from = step.ackedFrom[i];
    for (const c of clients) {
      if (c.idx === from) continue;
      if (!c.has(seq)) {
        losses += 1;
        lostBy.set(c.idx, (lostBy.get(c.idx) ?? 0) + 1);
      }
    }
  }
  const unacked = senders.reduce((s, c) => s + c.inflight.size, 0);
  for (const s of senders) s.inflight.clear();
  const lat = step.lat.summary();
  const ack = step.ackLat.summary();
  const end = Math.max(step.lastDelivery, step.lastAck, sendEnd);
  const activeS = (end - start) / 1000;
  const result = {
    rate_offered: rate,
    duration_s: round(durationMs / 1000, 1),
    sent: step.sent,
    acked: step.acked,
    unacked,
    errors: step.errors,
    deliveries: step.delivered,
    expected_deliveries: step.acked * receivers,
    losses,
    duplicates: clients.reduce((s, c) => s + c.dups, 0) - dupsBefore,
    out_of_order: clients.reduce((s, c) => s + c.outOfOrder, 0) - oooBefore,
    unexpected_closes: clients.reduce((s, c) => s + c.unexpectedClose, 0) - closesBefore,
    latency_ms: { p50: lat.p50, p90: lat.p90, p99: lat.p99, max: lat.max },
    ack_latency_ms: { p50: ack.p50, p99: ack.p99, max: ack.max },
    msgs_per_s: round(step.acked / activeS, 1),
    deliveries_per_s: Math.round(step.delivered / activeS),
    offered_deliveries_per_s: Math.round(rate * receivers),
    drain_ms: Math.round(end - sendEnd),
    backlogged: step.backlogged,
    client_cpu_pct: round(((cpu.user + cpu.system) / 1000 / wall) * 100, 0),
  };
  if (srv0 && srv1) {
    // CPU % of one core over the step (send + drain) for each server process role
    result.server_cpu_pct = Object.fromEntries(Object.keys(srv1).map((k) => [k, round(((srv1[k] - srv0[k]) / wall) * 100, 0)]));
    // CPU cost per 1,000 deliveries by process role: a steadier efficiency figure than the break point
    if (step.delivered) {
      const per = (ms) => round((ms / step.delivered) * 1000, 1);
      result.cpu_ms_per_1k_deliveries = {
        ...Object.fromEntries(Object.keys(srv1).map((k) => [k, per(srv1[k] - srv0[k])])),
        client: per((cpu.user + cpu.system) / 1000),
      };
    }
  }
  if (lostBy.size) result.lost_by_clients = lostBy.size;
  return result;
}

/** Why a step ends the ladder (null: it passed). */
export function verdict(r, { p99LimitMs, keepUp = 0.85 }) {
  if (r.losses > 0) return "loss";
  if (r.duplicates > 0) return "duplicate";
  if (r.out_of_order > 0) return "out of order";
  if (r.errors > 0) return "errors";
  if (r.unacked > 0) return "unacked";
  if (r.unexpected_closes > 0) return "socket closed";
  if (r.backlogged) return "backlog";
  if (r.latency_ms.p99 === null) return "no deliveries";
  if (r.latency_ms.p99 > p99LimitMs) return `p99>${p99LimitMs}ms`;
  if (r.deliveries_per_s < keepUp * r.offered_deliveries_per_s) return "fell behind";
  return null;
}

/**
 * Rising rates until a step fails (loss, duplicate, latency over the limit, or falling behind), then one
 * refinement step between the last pass and the failure. Returns {steps, sustained, broke}.
 */
export async function runLadder({ clients, senders, start, factor, maxSteps, durationMs, p99LimitMs, kind, refine = true, log, settleMs = 500, server, servers = [server] }) {
  const steps = [];
  let lastPass = null;
  let broke = null;
  let rate = start;
  for (let i = 0; i < maxSteps; i++) {
    const r = await runStep({ clients, senders, rate, durationMs, kind, server });
    r.verdict = verdict(r, { p99LimitMs });
    steps.push(r);
    log?.(r);
    await settle(clients, settleMs);
    r.quiesce_ms = await quiesce(servers);
    if (r.verdict) {
      broke = r;
      break;
    }
    lastPass = r;
    rate = Math.round(rate * factor);
  }
  if (refine && broke && lastPass && !["loss", "duplicate", "out of order", "socket closed"].includes(broke.verdict)) {
    const mid = Math.round(Math.sqrt(lastPass.rate_offered * broke.rate_offered));
    if (mid > lastPass.rate_offered && mid < broke.rate_offered) {
      const r = await runStep({ clients, senders, rate: mid, durationMs, kind, server });
      r.verdict = verdict(r, { p99LimitMs });
      r.refinement = true;
      steps.push(r);
      log?.(r);
      await settle(clients, settleMs);
      r.quiesce_ms = await quiesce(servers);
      if (!r.verdict) lastPass = r;
    }
  }
  const passed = steps.filter((s) => !s.verdict);
  const best = passed.reduce((a, b) => (b.deliveries_per_s > (a?.deliveries_per_s ?? -1) ? b : a), null);
  return { steps, sustained: best, broke: broke?.verdict ?? null, max_rate_tried: Math.max(...steps.map((s) => s.rate_offered)) };
}

const RETRYABLE = new Set(["fell behind", "backlog"]);
const retryable = (v) => v && (RETRYABLE.has(v) || v.startsWith("p99>"));

/**
 * Rising rates for several targets at once, interleaved: at each rate every target still standing runs
 * one step (so a baseline and the project are measured minutes, not tens of minutes, apart, under the
 * same machine conditions). A latency or keep-up failure is retried once at the same rate (single steps
 * on a shared 2-core machine are noisy); a second failure, or any loss/duplicate/order failure, ends
 * that target's ladder. Then one refinement step between each target's last pass and its failure.
 * targets: [{name, clients, senders, kind, server}]. Returns {name: {steps, sustained, broke, max_rate_tried}}.
 */
export async function runPairedLadder({ targets, start, factor, maxSteps, durationMs, p99LimitMs, servers, log, settleMs = 500 }) {
  const state = new Map(targets.map((t) => [t.name, { steps: [], lastPass: null, broke: null }]));
  const step = async (t, rate, extra = {}) => {
    const r = await runStep({ clients: t.clients, senders: t.senders, rate, durationMs, kind: t.kind, server: t.server });
    r.verdict = verdict(r, { p99LimitMs });
    Object.assign(r, extra);
    state.get(t.name).steps.push(r);
    log?.(t, r);
    await settle(t.clients, settleMs);
    r.quiesce_ms = await quiesce(servers);
    return r;
  };
  let rate = start;
  for (let i = 0; i < maxSteps; i++) {
    const standing = targets.filter((t) => !state.get(t.name).broke);
    if (!standing.length) break;
    for (const t of standing) {
      const st = state.get(t.name);
      let r = await step(t, rate);
      if (retryable(r.verdict)) r = await step(t, rate, { retry: true });
      if (r.verdict) st.broke = r;
      else st.lastPass = r;
    }
    rate = Math.round(rate * factor);
  }
  for (const t of targets) {
    const st = state.get(t.name);
    if (!st.broke || !st.lastPass || !retryable(st.broke.verdict)) continue;
    const mid = Math.round(Math.sqrt(st.lastPass.rate_offered * st.broke.rate_offered));
    if (mid > st.lastPass.rate_offered && mid < st.broke.rate_offered) {
      const r = await step(t, mid, { refinement: true });
      if (!r.verdict) st.lastPass = r;
    }
  }
  const out = {};
  for (const t of targets) {
    const st = state.get(t.name);
    const passed = st.steps.filter((s) => !s.verdict);
    const best = passed.reduce((a, b) => (b.deliveries_per_s > (a?.deliveries_per_s ?? -1) ? b : a), null);
    out[t.name] = { steps: st.steps, sustained: best, broke: st.broke?.verdict ?? null, max_rate_tried: Math.max(...st.steps.map((x) => x.rate_offered)) };
  }
  return out;
}

/**
 * Waits until the server processes (both wrangler trees share the 2 cores) are nearly idle, so that one
 * step's backlog never runs into the next step or the other target's ladder. Bounded by maxMs.
 */
export async function quiesce(servers, { maxMs = 60_000, idlePct = 10, holdMs = 1000 } = {}) {
  const list = servers.filter(Boolean);
  if (!list.length) return 0;
  const total = () => list.reduce((s, h) => s + Object.values(h.cpu()).reduce((a, b) => a + b, 0), 0);
  const t0 = performance.now();
  let quietSince = null;
  let prev = total();
  let prevT = performance.now();
  while (performance.now() - t0 < maxMs) {
    await sleep(250);
    const now = total();
    const t = performance.now();
    const pct = ((now - prev) / (t - prevT)) * 100;
    prev = now;
    prevT = t;
    if (pct < idlePct) {
      quietSince ??= t;
      if (t - quietSince >= holdMs) break;
    } else quietSince = null;
  }
  return Math.round(performance.now() - t0);
}

/** Waits until no frames arrive for a while (the server has caught up), bounded. */
async function settle(clients, quietMs, maxMs = 15_000) {
  const t0 = performance.now();
  let last = clients.reduce((s, c) => s + c.frames, 0);
  let quietSince = performance.now();
  while (performance.now() - t0 < maxMs) {
    await sleep(50);
    const now = clients.reduce((s, c) => s + c.frames, 0);
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= quietMs) return;
  }
}

export { summarize, RUN_TAG };
