import { sql } from "drizzle-orm";
import type { Db, Env } from "../env";
import { captchas, outbox } from "../db/schema";
import { hmacHex } from "./crypto";
import { isDevEnvironment } from "./delivery";
import { AppError } from "./errors";
import { newId } from "./ids";
import { jwtKey } from "./jwt";

export const CAPTCHA_TTL_SECONDS = 300;
const LENGTH = 5;

type Stroke = number[];
/** A stroke font on a 4×6 grid: glyphs are drawn as paths, so the answer is not in the SVG as text. */
const glyphs: Record<string, Stroke[]> = {
  A: [[0, 6, 2, 0, 4, 6], [1, 3.5, 3, 3.5]],
  C: [[4, 0.5, 3, 0, 1, 0, 0, 1, 0, 5, 1, 6, 3, 6, 4, 5.5]],
  E: [[4, 0, 0, 0, 0, 6, 4, 6], [0, 3, 3, 3]],
  F: [[4, 0, 0, 0, 0, 6], [0, 3, 3, 3]],
  H: [[0, 0, 0, 6], [4, 0, 4, 6], [0, 3, 4, 3]],
  K: [[0, 0, 0, 6], [4, 0, 0, 3.5], [1.5, 2.5, 4, 6]],
  L: [[0, 0, 0, 6, 4, 6]],
  M: [[0, 6, 0, 0, 2, 3, 4, 0, 4, 6]],
  N: [[0, 6, 0, 0, 4, 6, 4, 0]],
  P: [[0, 6, 0, 0, 3, 0, 4, 1, 4, 2, 3, 3, 0, 3]],
  R: [[0, 6, 0, 0, 3, 0, 4, 1, 4, 2, 3, 3, 0, 3], [2, 3, 4, 6]],
  T: [[0, 0, 4, 0], [2, 0, 2, 6]],
  U: [[0, 0, 0, 5, 1, 6, 3, 6, 4, 5, 4, 0]],
  V: [[0, 0, 2, 6, 4, 0]],
  W: [[0, 0, 1, 6, 2, 2, 3, 6, 4, 0]],
  X: [[0, 0, 4, 6], [4, 0, 0, 6]],
  Y: [[0, 0, 2, 3, 4, 0], [2, 3, 2, 6]],
  Z: [[0, 0, 4, 0, 0, 6, 4, 6]],
  "2": [[0, 1, 1, 0, 3, 0, 4, 1, 4, 2, 0, 6, 4, 6]],
  "3": [[0, 0, 4, 0, 2, 2.5, 3, 2.5, 4, 3.5, 4, 5, 3, 6, 1, 6, 0, 5]],
  "4": [[3, 6, 3, 0, 0, 4, 4, 4]],
  "5": [[4, 0, 0, 0, 0, 3, 3, 3, 4, 4, 4, 5, 3, 6, 0, 6]],
  "7": [[0, 0, 4, 0, 1.5, 6]],
};
const alphabet = Object.keys(glyphs);

function rand(min: number, max: number) {
  const [v] = crypto.getRandomValues(new Uint32Array(1));
  return min + (v / 0xffffffff) * (max - min);
}

export function randomAnswer(): string {
  let out = "";
  for (let i = 0; i < LENGTH; i++) out += alphabet[Math.floor(rand(0, alphabet.length - 0.001))];
  return out;
}

export function renderCaptcha(answer: string): string {
  const width = 160;
  const height = 56;
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) {
    parts.push(
      `<path d="M${rand(0, 20).toFixed(1)} ${rand(5, 50).toFixed(1)} Q${rand(40, 120).toFixed(1)} ${rand(0, 56).toFixed(1)} ${rand(140, 160).toFixed(1)} ${rand(5, 50).toFixed(1)}" stroke="hsl(${Math.round(rand(0, 360))},45%,60%)" stroke-width="${rand(1, 2).toFixed(1)}" fill="none"/>`,
    );
  }
  [...answer].forEach((ch, i) => {
    const scale = rand(5.2, 6.6);
    const x = 14 + i * 28 + rand(-3, 3);
    const y = 10 + rand(-3, 4);
    const rotate = rand(-22, 22);
    const d = glyphs[ch]
      .map((s) => {
        let p = "";
        for (let k = 0; k < s.length; k += 2) p += `${k ? "L" : "M"}${(s[k] * scale + rand(-0.8, 0.8)).toFixed(1)} ${(s[k + 1] * scale + rand(-0.8, 0.8)).toFixed(1)}`;
        return p;
      })
      .join("");
    parts.push(
      `<path transform="translate(${x.toFixed(1)} ${y.toFixed(1)}) rotate(${rotate.toFixed(1)} ${2 * scale} ${3 * scale})" d="${d}" stroke="hsl(${Math.round(rand(0, 360))},60%,32%)" stroke-width="${rand(2.2, 3.2).toFixed(1)}" stroke-linecap="round" stroke-linejoin="round" fill="none"/>`,
    );
  });
  for (let i = 0; i < 30; i++) {
    parts.push(`<circle cx="${rand(0, width).toFixed(1)}" cy="${rand(0, height).toFixed(1)}" r="${rand(0.6, 1.6).toFixed(1)}" fill="hsl(${Math.round(rand(0, 360))},40%,55%)"/>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="100%" height="100%" fill="#f4f4f0"/>${parts.join("")}</svg>`;
}

const answerHash = (env: Env, key: string, answer: string) =>
  hmacHex(new TextDecoder().decode(jwtKey(env)), `captcha:${key}:${answer.toUpperCase()}`);

/** Stores a captcha answer (hashed) under a new key; in dev the answer is also written to the outbox. */
export async function storeCaptcha(env: Env, db: Db, answer: string) {
  const key = newId("cap");
  const expiresAt = new Date(Date.now() + CAPTCHA_TTL_SECONDS * 1000).toISOString();
  await db.insert(captchas).values({ key, answerHash: await answerHash(env, key, answer), expiresAt });
  if (env.DELIVERY_PROVIDER === "outbox" && isDevEnvironment(env)) {
    await db.insert(outbox).values({ id: newId("ob"), channel: "captcha", target: key, subject: "captcha", body: answer });
  }
  return { key, expiresAt };
}

export async function createCaptcha(env: Env, db: Db) {
  const answer = randomAnswer();
  const { key } = await storeCaptcha(env, db, answer);
  const image = `data:image/svg+xml;base64,${btoa(renderCaptcha(answer))}`;
  return { captcha_key: key, image, expires_in: CAPTCHA_TTL_SECONDS };
}

/** Consumes the captcha (single use, right or wrong) and throws unless the answer matches in time. */
export async function verifyCaptcha(env: Env, db: Db, key: string | undefined, answer: string | undefined) {
  if (!key || !answer) throw new AppError("CAPTCHA_REQUIRED", "Captcha required: fetch GET /api/v1/auth/captcha and send captcha_key and captcha");
  const rows = await db.all<{ answer_hash: string; expires_at: string }>(
    sql`DELETE FROM captchas WHERE key = ${key} RETURNING answer_hash, expires_at`,
  );
  const row = rows[0];
  if (!row || row.expires_at < new Date().toISOString() || row.answer_hash !== (await answerHash(env, key, answer))) {
    throw new AppError("CAPTCHA_INVALID", "Captcha is wrong, expired or already used");
  }
}

