#!/usr/bin/env node
// `npm run test:browser` (also run by .ci/run): the web client at `/` in headless Chromium.
//
// Debian's chromium (/usr/bin/chromium; .ci/run installs it with apt-get when missing) driven by
// playwright-core: no browser is ever downloaded. The Worker runs under `wrangler dev` on a free
// loopback port with its static assets built (bench/lib/proc.mjs, as test/faults does).
//
// Two people in two browser contexts (a desktop window and a 375 px wide phone) sign up, become
// friends, chat in a DM and a group, see each other's typing and read receipts, one uploads an image
// the other sees, one reloads and gets the history back, one goes offline and comes back without a
// gap. Screenshots of each step go to test/browser/screenshots/ (gitignored).
// Bounded: hard limit 5 minutes. Prints `N passed, M failed`; exits non-zero on failure.
import { mkdirSync, existsSync } from "node:fs";
import path from "node:path";
import { deflateSync } from "node:zlib";
import { chromium } from "playwright-core";
import { startWrangler, migrate, tempDir, installCleanup, cleanup, DEV_VARS, projectSnapshot, ROOT } from "../../bench/lib/proc.mjs";

const HARD_LIMIT_MS = 300_000;
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SHOTS = path.join(ROOT, "test", "browser", "screenshots");
const TIMEOUT = 15_000;
const results = [];
let browser = null;
installCleanup(() => browser?.close().catch(() => undefined));
const hardLimit = setTimeout(() => {
  console.error(`browser: hard time limit (${HARD_LIMIT_MS / 1000} s) reached`);
  finish(1);
}, HARD_LIMIT_MS);
hardLimit.unref();

const t0 = Date.now();
const say = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

async function finish(code) {
  await browser?.close().catch(() => undefined);
  await cleanup();
  const failed = results.filter((r) => !r.ok).length + (code && !results.some((r) => !r.ok) ? 1 : 0);
  console.log(`${results.filter((r) => r.ok).length} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

/** One named check: runs `fn`, records ok / not ok, and screenshots both people afterwards. */
async function step(name, fn, pages = []) {
  const started = Date.now();
  if (results.some((r) => !r.ok)) {
    // each step builds on the one before: after a failure the rest can only fail the same way
    results.push({ name, ok: false });
    return console.log(`not ok - ${name}: skipped after an earlier failure`);
  }
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`not ok - ${name}: ${err instanceof Error ? err.message.split("\n").slice(0, 6).join("\n    ") : err}`);
  }
  const slug = `${String(results.length).padStart(2, "0")}-${name.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 50)}`;
  for (const [who, page] of pages) await page.screenshot({ path: path.join(SHOTS, `${slug}-${who}.png`) }).catch(() => undefined);
}

/** A small real PNG (a gradient), for the upload. */
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      raw[row + 1 + x * 3] = Math.round((x / width) * 255);
      raw[row + 2 + x * 3] = Math.round((y / height) * 200);
      raw[row + 3 + x * 3] = 220;
    }
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (never a downloaded browser)`);
  mkdirSync(SHOTS, { recursive: true });
  let server = { url: process.env.EDGE_IM_URL }; // a server already running (while developing the client)
  if (!server.url) {
    const persistTo = tempDir("edge-im-browser-state-");
    migrate(persistTo);
    const cwd = projectSnapshot(); // builds the static assets (the web client) and copies the project
    server = await startWrangler({ label: "browser", persistTo, cwd, vars: DEV_VARS });
  }
  say(`testing ${server.url}`);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: server.url });
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, baseURL: server.url, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  desktop.setDefaultTimeout(TIMEOUT);
  phone.setDefaultTimeout(TIMEOUT);
  const a = await desktop.newPage();
  const b = await phone.newPage();
  const errors = [];
  for (const [who, page] of [["ann", a], ["bob", b]]) {
    page.on("pageerror", (err) => errors.push(`${who}: ${err.message}`));
  }
  const both = [
    ["ann", a],
    ["bob", b],
  ];
  const tag = Math.random().toString(36).slice(2, 7);
  const ann = `ann_${tag}`;
  const bob = `bob_${tag}`;
  const password = "correct horse battery";

  // locators by role and accessible name, as a screen reader user finds them
  const list = (page) => page.getByRole("navigation", { name: "Chats" });
  const log = (page) => page.getByRole("log", { name: "Messages" });
  const bubble = (page, text) => log(page).locator(".bubble .text", { hasText: text });
  /** The focusable bubble of the message whose text is exactly `text` (its accessible name ends with it). */
  const msgBubble = (page, text) => log(page).locator(`.bubble[aria-label$=${JSON.stringify(`: ${text}`)}]`);
  const send = async (page, text) => {
    await page.getByRole("textbox", { name: "Message" }).fill(text);
    await page.getByRole("button", { name: "Send" }).click();
    await bubble(page, text).waitFor();
  };
  const openChat = async (page, name) => {
    if (await page.getByRole("button", { name: "Back" }).isVisible()) await page.getByRole("button", { name: "Back" }).click();
    await list(page).getByRole("button", { name: new RegExp(`^${name}`) }).click();
  };

  await step(
    "both sign up",
    async () => {
      for (const [page, name] of [
        [a, ann],
        [b, bob],
      ]) {
        await page.goto("/");
        await page.getByRole("textbox", { name: "Username" }).fill(name);
        await page.getByLabel("Password").fill(password);
        await page.screenshot({ path: path.join(SHOTS, `00-sign-up-${page === a ? "ann" : "bob"}.png`) });
        await page.getByRole("button", { name: "Sign up" }).click();
        await page.getByRole("status").filter({ hasText: "Connected" }).waitFor();
      }
    },
    both,
  );

  await step(
    "ann finds bob and sends a friend request; bob accepts from the notifications",
    async () => {
      await a.getByRole("button", { name: "New chat" }).click();
      await a.getByRole("searchbox", { name: "Find people" }).fill(bob);
      await a.getByRole("button", { name: "Find", exact: true }).click();
      await a.getByRole("button", { name: `Add ${bob} as a friend` }).click();
      await a.getByRole("button", { name: "Requested" }).waitFor();
      await a.getByRole("button", { name: "Close" }).click();
      await b.getByRole("button", { name: /^Notifications \(\d+ new\)$/ }).click();
      await b.getByRole("dialog", { name: "Notifications" }).getByText(ann, { exact: true }).waitFor();
      await b.getByRole("button", { name: "Accept" }).click();
      // accepting opens the DM, named by the other person's username
      await b.getByRole("heading", { name: ann }).waitFor();
    },
    both,
  );

  await step(
    "DM: messages arrive live, typing shows on the other side, and read receipts come back",
    async () => {
      await send(b, "Hi Ann");
      // ann's list gains the conversation, named by bob's username, with the message and a badge
      const dm = list(a).getByRole("button", { name: new RegExp(`^${bob}`) });
      await dm.getByText("Hi Ann").waitFor();
      await dm.getByLabel("1 unread").waitFor();
      await openChat(a, bob);
      await bubble(a, "Hi Ann").waitFor();
      await b.getByRole("textbox", { name: "Message" }).pressSequentially("How are you?", { delay: 40 });
      await a.getByText(`${bob} is typing…`).waitFor();
      await b.getByRole("button", { name: "Send" }).click();
      await bubble(a, "How are you?").waitFor();
      await send(a, "Hey Bob! Good to see you here.");
      await bubble(b, "Hey Bob! Good to see you here.").waitFor();
      // each has the DM open: each sees that the other read their latest message
      await a.locator(".receipt", { hasText: "Seen" }).waitFor();
      await b.locator(".receipt", { hasText: "Seen" }).waitFor();
    },
    both,
  );

  await step(
    "DM: reply, reaction, edit and recall reach the other side",
    async () => {
      const first = msgBubble(a, "Hi Ann");
      await first.focus();
      await first.getByRole("button", { name: "Reply" }).click();
      await send(a, "Replying to you");
      await log(b).locator(".quote", { hasText: "Hi Ann" }).waitFor();
      await first.focus();
      await first.getByRole("button", { name: "React" }).click();
      await a.getByRole("button", { name: "React 👍" }).click();
      await log(b).getByRole("button", { name: "👍 1" }).waitFor();
      const mine = msgBubble(a, "Replying to you");
      await mine.focus();
      await mine.getByRole("button", { name: "Edit" }).click();
      await a.getByRole("textbox", { name: "Message" }).fill("Replying to you (edited)");
      await a.getByRole("textbox", { name: "Message" }).press("Enter");
      await bubble(b, "Replying to you (edited)").waitFor();
      await send(a, "oops, wrong chat");
      await bubble(b, "oops, wrong chat").waitFor();
      const oops = msgBubble(a, "oops, wrong chat");
      await oops.focus();
      await oops.getByRole("button", { name: "Recall" }).click();
      await log(b).getByText("This message was recalled").waitFor();
    },
    both,
  );

  await step(
    "ann uploads an image with a progress bar and bob sees it",
    async () => {
      await a.getByLabel("Attach").setInputFiles({ name: "sunset.png", mimeType: "image/png", buffer: png(480, 320) });
      await log(b).locator("img[alt='sunset.png']").waitFor();
      const loaded = await log(b)
        .locator("img[alt='sunset.png']")
        .evaluate((img) => new Promise((resolve) => (img.complete ? resolve(img.naturalWidth) : img.addEventListener("load", () => resolve(img.naturalWidth)))));
      if (loaded !== 480) throw new Error(`bob's image is ${loaded} px wide, not 480`);
    },
    both,
  );

  await step(
    "group: ann creates one with bob, both chat in it",
    async () => {
      await a.getByRole("button", { name: "New group" }).click();
      await a.getByRole("textbox", { name: "Group name" }).fill(`Weekend trip ${tag}`);
      await a.getByRole("checkbox", { name: bob }).check();
      await a.getByRole("button", { name: "Create group" }).click();
      await a.getByRole("heading", { name: `Weekend trip ${tag}` }).waitFor();
      await send(a, "Who is in for Saturday?");
      await openChat(b, `Weekend trip ${tag}`);
      await bubble(b, "Who is in for Saturday?").waitFor();
      await b.getByRole("textbox", { name: "Message" }).pressSequentially("Me!", { delay: 30 });
      await a.getByText(`${bob} is typing…`).waitFor();
      await b.getByRole("button", { name: "Send" }).click();
      await bubble(a, "Me!").waitFor();
      await a.bringToFront();
      await b.locator(".receipt", { hasText: "Seen by 1" }).waitFor();
    },
    both,
  );

  await step(
    "unread badge and last message in the list",
    async () => {
      // bob looks at the group; ann writes in the DM: bob's DM shows an unread badge and the text
      await send(a, "placeholder");
      await openChat(a, bob);
      await send(a, "Are you around tonight?");
      await b.getByRole("button", { name: "Back" }).click();
      const dm = list(b).getByRole("button", { name: new RegExp(`^${ann}`) });
      await dm.getByText("Are you around tonight?").waitFor();
      await dm.getByLabel(/\d+ unread/).waitFor();
    },
    both,
  );

  await step(
    "bob reloads and gets the history back",
    async () => {
      await b.reload();
      await b.getByRole("status").filter({ hasText: "Connected" }).waitFor();
      await openChat(b, ann);
      for (const text of ["Hi Ann", "Hey Bob! Good to see you here.", "Replying to you (edited)", "Are you around tonight?"]) await bubble(b, text).waitFor();
      await log(b).locator("img[alt='sunset.png']").waitFor();
      await log(b).getByText("This message was recalled").waitFor();
    },
    both,
  );

  await step(
    "bob goes offline, ann keeps writing, bob comes back without a gap",
    async () => {
      await phone.setOffline(true);
      await b.getByRole("status").filter({ hasText: /offline/i, visible: true }).first().waitFor();
      const missed = ["while you were away 1", "while you were away 2", "while you were away 3"];
      for (const text of missed) await send(a, text);
      await b.waitForTimeout(500);
      if (await bubble(b, missed[0]).count()) throw new Error("bob got a message while offline");
      await phone.setOffline(false);
      await b.locator(".banner").waitFor({ state: "detached" });
      for (const text of missed) await bubble(b, text).waitFor();
      await send(a, "and one after");
      await bubble(b, "and one after").waitFor();
      const texts = await log(b).locator(".bubble .text").allTextContents();
      const tail = texts.slice(texts.indexOf(missed[0]));
      const want = [...missed, "and one after"];
      if (JSON.stringify(tail) !== JSON.stringify(want)) throw new Error(`bob's messages after the gap: ${JSON.stringify(tail)}`);
    },
    both,
  );

  await step(
    "search in a conversation finds a message",
    async () => {
      await b.getByRole("button", { name: "Search messages" }).click();
      await b.getByRole("searchbox", { name: "Search in this conversation" }).fill("tonight");
      await b.getByRole("button", { name: "Search", exact: true }).click();
      await b.getByRole("list", { name: "Search results" }).getByText("Are you around tonight?").waitFor();
      await b.getByRole("button", { name: "Search messages" }).click();
    },
    both,
  );

  await step(
    "history loads as you scroll up",
    async () => {
      // 60 messages in the group through the API (as another device of ann's would send them)
      const session = JSON.parse(await a.evaluate(() => localStorage.getItem("edge-im:session")));
      const groupId = await a.evaluate(async (name) => {
        const s = JSON.parse(localStorage.getItem("edge-im:session"));
        const r = await fetch("/api/v1/conversations", { headers: { authorization: `Bearer ${s.token}` } }).then((x) => x.json());
        return r.data.conversations.find((c) => c.name === name).id;
      }, `Weekend trip ${tag}`);
      for (let i = 1; i <= 60; i++) {
        const res = await fetch(`${server.url}/api/v1/conversations/${groupId}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${session.token}`, "content-type": "application/json" },
          body: JSON.stringify({ content: `history ${i}`, client_id: `hist-${tag}-${i}` }),
        });
        if (res.status !== 201) throw new Error(`send ${i}: ${res.status}`);
      }
      await b.reload();
      await openChat(b, `Weekend trip ${tag}`);
      await bubble(b, "history 60").waitFor();
      if (await bubble(b, "history 1").count()) throw new Error("the whole history loaded at once");
      const start = b.getByText("This is the beginning of the conversation.");
      for (let i = 0; i < 15 && !(await start.isVisible()); i++) {
        await log(b).evaluate((el) => (el.scrollTop = 0));
        await b.waitForTimeout(400);
      }
      await msgBubble(b, "Who is in for Saturday?").waitFor();
      const texts = (await log(b).locator(".bubble .text").allTextContents()).filter((t) => t.startsWith("history "));
      if (texts.length !== 60 || texts.some((t, i) => t !== `history ${i + 1}`)) throw new Error(`history out of order or with gaps: ${texts.length} messages`);
    },
    both,
  );

  await step(
    "rooms: bob opens a public room, ann finds it in Discover, joins, and they chat",
    async () => {
      await b.getByRole("button", { name: "Back" }).click();
      await b.getByRole("button", { name: "Discover" }).click();
      await b.getByRole("textbox", { name: "New room name" }).fill(`Lobby ${tag}`);
      await b.getByRole("button", { name: "Create room" }).click();
      await b.getByRole("heading", { name: `Lobby ${tag}` }).waitFor();
      await a.getByRole("button", { name: "Discover" }).click();
      await a.getByRole("searchbox", { name: "Search groups and rooms" }).fill(`Lobby ${tag}`);
      await a.getByRole("button", { name: "Search", exact: true }).click();
      await a.getByRole("button", { name: `Join Lobby ${tag}` }).click();
      await a.getByRole("heading", { name: `Lobby ${tag}` }).waitFor();
      await send(a, "hello room");
      await bubble(b, "hello room").waitFor();
      await send(b, "welcome!");
      await bubble(a, "welcome!").waitFor();
    },
    both,
  );

  await step("no script errors on either page", async () => {
    if (errors.length) throw new Error(errors.join("; "));
  });
}

main()
  .then(() => finish(0))
  .catch((err) => {
    console.error(err instanceof Error ? err.stack : err);
    finish(1);
  });
