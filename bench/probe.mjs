// Diagnostic probe (not part of `npm run bench`): one room of N clients, S senders, a steady rate R
// for D seconds, twice; prints latency and CPU per thread of every process wrangler started, so a
// change on the send path can be judged in a minute instead of a full ladder.
//
//   node bench/probe.mjs --target=project|baseline --n=100 --s=10 --r=700 --d=8 [--profile]
//
// --profile (project or baseline) takes a CPU profile of the Worker's isolate through wrangler's
// inspector during each step and writes /tmp/edge-im-probe/rt-<step>.cpuprofile (open it in Chrome
// DevTools, or summarize it by self time). --pad=N (baseline) adds N characters to each delivered
// frame, to compare equal frame sizes; --mode=hibernate (baseline) holds the sockets with the
// Hibernation API instead of accept(). PROBE_VARS='{"NAME":"value"}' passes extra --var bindings to
// the project; PROBE_GREP=text prints the runtime's log lines containing text before stopping.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { Api, mapLimit } from "./lib/api.mjs";
import { Client, closeAll, openAll, RUN_TAG, runStep } from "./lib/load.mjs";
import { baselineSnapshot, cleanup, DEV_VARS, installCleanup, migrate, processTree, projectSnapshot, startWrangler, tempDir } from "./lib/proc.mjs";

const opt = (k, d) => process.argv.find((a) => a.startsWith(`--${k}=`))?.split("=")[1] ?? d;
const TARGET = opt("target", "project");
const [N, S, R, D] = ["n", "s", "r", "d"].map((k, i) => Number(opt(k, [10, 10, 1000, 8][i])));
const OUT = "/tmp/edge-im-probe";
installCleanup();

let server;
let urls;
if (TARGET === "baseline") {
  const dir = baselineSnapshot();
  server = await startWrangler({ label: "baseline", cwd: dir, config: path.join(dir, "wrangler.toml"), persistTo: tempDir("probe-base-"), readyPath: "/" });
  urls = Array.from({ length: N }, () => `${server.wsUrl}/ws?room=probe-${RUN_TAG}&pad=${opt("pad", 0)}&mode=${opt("mode", "accept")}`);
} else {
  const dir = projectSnapshot();
  const persist = tempDir("probe-state-");
  migrate(persist, dir);
  server = await startWrangler({ label: "project", cwd: dir, persistTo: persist, vars: { ...DEV_VARS, WS_RATE_PER_SECOND: 100000, WS_RATE_BURST: 100000, ...(process.env.PROBE_VARS ? JSON.parse(process.env.PROBE_VARS) : {}) } });
  const api = new Api(server.url);
  const users = await mapLimit(Array.from({ length: N }, (_, i) => `p${RUN_TAG}${i}`), 8, (u) => api.register(u));
  const room = (await api.must("POST", "/rooms", { token: users[0].token, body: { name: "probe", description: "probe" } }, [201])).body.data.id;
  urls = users.map((u) => `${server.wsUrl}/api/v1/ws?token=${u.token}&room_id=${room}&device_id=probe`);
}
const kind = TARGET === "baseline" ? "baseline" : "bound";
const clients = urls.map((u, i) => new Client(i, u, { kind }));
await openAll(clients);
await new Promise((r) => setTimeout(r, 2000));

/** CPU ms so far of every thread of every process under wrangler, keyed by process and thread name. */
function threads() {
  const out = {};
  for (const p of processTree(server.pid)) {
    let tids = [];
    try {
      tids = readdirSync(`/proc/${p.pid}/task`);
    } catch {
      continue;
    }
    for (const t of tids) {
      try {
        const st = readFileSync(`/proc/${p.pid}/task/${t}/stat`, "utf8");
        const name = `${p.comm}:${p.pid}/${st.slice(st.indexOf("(") + 1, st.lastIndexOf(")"))}`;
        const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
        out[name] = (out[name] ?? 0) + (Number(f[11]) + Number(f[12])) * 10;
      } catch {
        // thread gone
      }
    }
  }
  return out;
}

async function inspector() {
  const list = await (await fetch(`http://127.0.0.1:${server.inspectorPort}/json/list`)).json();
  const ws = new WebSocket(list[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const waiting = new Map();
  ws.on("message", (d) => {
    const m = JSON.parse(d);
    if (m.id && waiting.has(m.id)) {
      waiting.get(m.id)(m);
      waiting.delete(m.id);
    }
  });
  return (method, params = {}) =>
    new Promise((resolve) => {
      const i = ++id;
      waiting.set(i, resolve);
      ws.send(JSON.stringify({ id: i, method, params }));
    });
}

const cdp = process.argv.includes("--profile") ? await inspector() : null;
mkdirSync(OUT, { recursive: true });
for (let step = 0; step < 2; step++) {
  if (cdp) {
    await cdp("Profiler.enable");
    await cdp("Profiler.setSamplingInterval", { interval: 200 });
    await cdp("Profiler.start");
  }
  const before = threads();
  const r = await runStep({ clients, senders: clients.slice(0, S), rate: R, durationMs: D * 1000, kind, server });
  const after = threads();
  if (cdp) writeFileSync(`${OUT}/rt-${step}.cpuprofile`, JSON.stringify((await cdp("Profiler.stop")).result.profile));
  console.log(
    `${TARGET} N=${N} rate ${R}: acked ${r.acked}/${r.sent}, ${Math.round(r.deliveries_per_s)} deliv/s, ` +
      `p50 ${r.latency_ms?.p50} p99 ${r.latency_ms?.p99} ms (ack p50 ${r.ack_latency_ms?.p50} p99 ${r.ack_latency_ms?.p99}), loss ${r.losses}, dup ${r.duplicates}, client cpu ${r.client_cpu_pct}%${r.backlogged ? ", backlogged" : ""}`,
  );
  const rows = Object.keys(after)
    .map((k) => [k, after[k] - (before[k] ?? 0)])
    .filter(([, v]) => v >= 50)
    .sort((a, b) => b[1] - a[1]);
  for (const [k, v] of rows) console.log(`  ${String(v).padStart(6)} ms  ${(v / r.deliveries_per_s / D * 1000).toFixed(1).padStart(5)} ms/1k deliv  ${k}`);
}
await closeAll(clients);
if (process.env.PROBE_GREP) {
  for (const line of readFileSync(server.logFile, "utf8").split("\n")) if (line.includes(process.env.PROBE_GREP)) console.log(line.slice(0, 300));
}
await server.stop();
await cleanup();
process.exit(0);
