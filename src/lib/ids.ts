const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";

function encode(value: number, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    out = alphabet[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

/** Random base32 string of `length` characters. */
export function randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += alphabet[b & 31];
  return out;
}

export type IdPrefix =
  | "user" | "rt" | "fam" | "vc" | "ob" | "cap" | "freq" | "fcat" | "ntf"
  | "dm" | "grp" | "room" | "ws" | "jr" | "msg" | "file" | "upl" | "mom" | "cmt" | "note" | "disc" | "rep" | "aud" | "job";

/** Opaque prefixed id whose body sorts by creation time (10 chars of ms time + 10 random). */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${encode(Date.now(), 10)}${randomToken(10)}`;
}

export const idPattern = (prefix: string) => new RegExp(`^${prefix}_[0-9a-z]{6,40}$`);
