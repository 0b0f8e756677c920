// Process control for the bench and the fault test: wrangler dev on loopback with its own temp state,
// the process tree under it (wrangler's node processes and the workerd runtimes), memory (VmRSS),
// SIGKILL of the runtime, and a cleanup that stops everything this process started, also on
// SIGINT/SIGTERM and on an uncaught error.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync, existsSync, cpSync, symlinkSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

process.env.WRANGLER_SEND_METRICS = "false";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Development values for the project's secrets and vars (as in .dev.vars.example), passed with --var. */
export const DEV_VARS = {
  ENVIRONMENT: "development",
  JWT_SECRET: "bench-only-secret-0123456789abcdef0123456789",
  DELIVERY_PROVIDER: "outbox",
  ADMIN_USERNAMES: "admin",
};

const groups = new Set(); // process-group ids of everything started here
const tempDirs = new Set();

/** A free TCP port on 127.0.0.1 (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

/** Every pid with its parent pid and command name, from /proc. */
function processTable() {
  const table = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      table.push({ pid: Number(name), comm, ppid: Number(fields[1]), pgid: Number(fields[2]) });
    } catch {
      // the process ended while we read
    }
  }
  return table;
}

/** The process and all its descendants: [{pid, ppid, comm}]. */
export function processTree(rootPid) {
  const table = processTable();
  const byParent = new Map();
  for (const p of table) {
    if (!byParent.has(p.ppid)) byParent.set(p.ppid, []);
    byParent.get(p.ppid).push(p);
  }
  const out = [];
  const root = table.find((p) => p.pid === rootPid);
  if (!root) return out;
  const stack = [root];
  while (stack.length && out.length < 10_000) {
    const p = stack.pop();
    out.push(p);
    for (const c of byParent.get(p.pid) ?? []) stack.push(c);
  }
  return out;
}

/** CPU time (user + system) of one process in milliseconds (0 if gone). */
export function cpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}
const CLK_TCK = (() => {
  try {
    return Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  } catch {
    return 100;
  }
})();

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}

/** VmRSS in kB of one process (0 if gone). */
export function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/**
 * A private copy of the files a Worker needs (node_modules linked), so that `wrangler dev`'s file
 * watcher never reloads a running measurement when someone edits the working tree meanwhile.
 * `files` are paths relative to `from`; returns the copy's directory.
 */
export function snapshot(label, files, from = ROOT) {
  const dir = tempDir(`edge-im-${label}-src-`);
  for (const f of files) {
    const src = path.join(from, f);
    if (existsSync(src)) cpSync(src, path.join(dir, f), { recursive: true });
  }
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  return dir;
}

/** Builds dist/public (wrangler.toml `[assets]`), which `wrangler dev` refuses to start without. */
export function buildAssets() {
  const r = spawnSync(process.execPath, [path.join(ROOT, "scripts", "build-assets.mjs")], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`scripts/build-assets.mjs failed (status ${r.status}): ${(r.stderr || r.stdout || "").slice(-2000)}`);
}

/** The project as `wrangler dev` needs it (its static assets built first). */
export const projectSnapshot = () => {
  buildAssets();
  return snapshot("project", ["wrangler.toml", "package.json", "tsconfig.json", "src", "migrations", "dist/public"]);
};
/** The baseline worker (bench/baseline). */
export const baselineSnapshot = () => snapshot("baseline", ["wrangler.toml", "index.ts"], path.join(ROOT, "bench", "baseline"));

/** Applies the project's D1 migrations to a local state directory (bounded: 120 s). */
export function migrate(persistTo, cwd = ROOT) {
  const r = spawnSync(process.execPath, [WRANGLER, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], {
    cwd,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    encoding: "utf8",
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`d1 migrations failed (status ${r.status}): ${(r.stderr || r.stdout || "").slice(-2000)}`);
}

/**
 * Starts `wrangler dev --local` on 127.0.0.1:<port> in its own process group with its output in a log
 * file, and waits until `readyPath` answers. Returns a handle to stop it, SIGKILL its runtime, and read
 * its memory.
 */
export async function startWrangler({ label, port, persistTo, config, cwd = ROOT, vars = {}, readyPath = "/api/v1/health", timeoutMs = 120_000, logDir }) {
  port ??= await freePort();
  const inspector = await freePort();
  const dir = logDir ?? tempDir(`edge-im-${label}-log-`);
  const logFile = path.join(dir, `${label}-${Date.now()}.log`);
  const fd = openSync(logFile, "a");
  // BENCH_WRANGLER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles wrangler's node processes.
  const nodeArgs = (process.env.BENCH_WRANGLER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  if (!config && cwd === ROOT && !existsSync(path.join(ROOT, "dist", "public"))) buildAssets();
  const args = [...nodeArgs, WRANGLER, "dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--show-interactive-dev-session=false", "--log-level", process.env.BENCH_WRANGLER_LOG_LEVEL ?? "warn"];
  if (config) args.push("--config", config);
  if (persistTo) args.push("--persist-to", persistTo);
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(process.execPath, args, {
    cwd,
    detached: true, // own process group: stop() signals the whole tree
    stdio: ["ignore", fd, fd],
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  });
  closeSync(fd);
  const pgid = child.pid;
  groups.add(pgid);
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  const url = `http://127.0.0.1:${port}`;
  const handle = {
    label,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}`,
    pid: pgid,
    inspectorPort: inspector,
    logFile,
    persistTo,
    exited: () => exited,
    tree: () => processTree(pgid),
    /** The workerd runtime processes (wrangler runs a proxy runtime and the user-worker runtime). */
    workerdPids: () => processTree(pgid).filter((p) => p.comm === "workerd").map((p) => p.pid),
    /**
     * The processes by role: "proxy" (the workerd that listens on the public port and relays to the
     * user worker, wrangler's ProxyWorker), "runtime" (the workerd running the Worker and its Durable
     * Objects), "wrangler" (node).
     */
    roles() {
      const out = { proxy: [], runtime: [], wrangler: [], other: [] };
      for (const p of processTree(pgid)) {
        if (p.comm === "workerd") {
          const args = cmdline(p.pid);
          out[args.some((a) => a === `--socket-addr=entry=127.0.0.1:${port}`) ? "proxy" : "runtime"].push(p.pid);
        } else if (p.comm === "node" || p.comm.startsWith("node")) out.wrangler.push(p.pid);
        else out.other.push(p.pid);
      }
      return out;
    },
    /** CPU milliseconds used so far by role. */
    cpu() {
      const r = handle.roles();
      const sum = (pids) => pids.reduce((a, pid) => a + cpuMs(pid), 0);
      return { proxy: sum(r.proxy), runtime: sum(r.runtime), wrangler: sum(r.wrangler) + sum(r.other) };
    },
    /** kB: {total over the tree, workerd only, the largest workerd (the user worker's runtime)}. */
    memory() {
      const tree = processTree(pgid);
      let total = 0;
      let workerd = 0;
      let largest = 0;
      for (const p of tree) {
        const kb = rssKb(p.pid);
        total += kb;
        if (p.comm === "workerd") {
          workerd += kb;
          largest = Math.max(largest, kb);
        }
      }
      return { totalKb: total, workerdKb: workerd, runtimeKb: largest, processes: tree.length };
    },
    logTail(n = 30) {
      try {
        return readFileSync(logFile, "utf8").split("\n").slice(-n).join("\n");
      } catch {
        return "";
      }
    },
    /** SIGKILL the workerd runtime processes (found under wrangler), then the rest of the group. */
    async kill9() {
      const workerd = handle.workerdPids();
      for (const pid of workerd) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      killGroup(pgid, "SIGKILL");
      for (let i = 0; i < 100 && groupAlive(pgid); i++) await sleep(50);
      groups.delete(pgid);
      return workerd;
    },
    /** SIGTERM the group, then SIGKILL whatever is left after 5 s. */
    async stop() {
      if (!groups.has(pgid)) return;
      killGroup(pgid, "SIGTERM");
      for (let i = 0; i < 50 && groupAlive(pgid); i++) await sleep(100);
      if (groupAlive(pgid)) killGroup(pgid, "SIGKILL");
      for (let i = 0; i < 20 && groupAlive(pgid); i++) await sleep(50);
      groups.delete(pgid);
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${label}: wrangler dev exited early (${JSON.stringify(exited)}):\n${handle.logTail()}`);
    try {
      const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`${label}: not ready on ${url} after ${timeoutMs} ms:\n${handle.logTail()}`);
    }
    await sleep(250);
  }
  return handle;
}

/** Synchronous last-resort cleanup: SIGKILL every group still running, remove temp dirs. */
function cleanupSync() {
  for (const pgid of groups) killGroup(pgid, "SIGKILL");
  groups.clear();
  if (process.env.KEEP_BENCH_STATE) return;
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
}

/** Stops everything started here (graceful first), removes temp state unless KEEP_BENCH_STATE=1. */
export async function cleanup() {
  for (const pgid of [...groups]) {
    killGroup(pgid, "SIGTERM");
  }
  for (let i = 0; i < 50 && [...groups].some(groupAlive); i++) await sleep(100);
  cleanupSync();
}

let installed = false;
/** Installs exit, signal and uncaught-error handlers that stop every started process. */
export function installCleanup(onSignal) {
  if (installed) return;
  installed = true;
  process.on("exit", cleanupSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      console.error(`\n${sig}: stopping everything started by this run…`);
      try {
        onSignal?.();
      } catch {
        // best effort
      }
      cleanup().finally(() => process.exit(130));
    });
  }
  process.on("uncaughtException", (err) => {
    console.error("uncaught error:", err);
    cleanupSync();
    process.exit(1);
  });
  process.on("unhandledRejection", (err) => {
    console.error("unhandled rejection:", err);
    cleanupSync();
    process.exit(1);
  });
}

export { existsSync, sleep };
