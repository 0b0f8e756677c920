// Opening a client WebSocket for the bench and the fault test: the socket counts as open once the
// server's first frame has accepted it (authenticated / hello), not on the upgrade alone.
import WebSocket from "ws";

/** A frame's JSON, or null when it is not JSON. */
export function safeParse(s) {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/**
 * Opens `url` and resolves with the socket once `first(text)` accepts the first frame (true); rejects
 * when it refuses it (false), on an error, on a close before that, or after `timeoutMs`. Frames for
 * which `first` returns undefined are skipped while waiting. `adopt(ws)` runs before any event, so the
 * caller can make the socket current; later frames go to `onFrame(text)` and a close to `onClose(code)`,
 * only while `current()` is still this socket (a client that reconnected ignores its old one).
 */
export function openSocket(url, { timeoutMs, label, first, adopt, current, onFrame, onClose }) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    adopt(ws);
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`${label}: no first frame within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (!err) return resolve(ws);
      try {
        ws.terminate();
      } catch {
        // ignore
      }
      reject(err);
    };
    ws.on("message", (data) => {
      if (current() !== ws) return;
      const text = data.toString();
      if (settled) return onFrame(text);
      const accepted = first(text);
      if (accepted === true) finish();
      else if (accepted === false) finish(new Error(`${label}: first frame ${text.slice(0, 200)}`));
    });
    ws.on("error", (err) => finish(err));
    ws.on("close", (code) => {
      if (!settled) finish(new Error(`${label}: closed ${code} before the first frame`));
      if (current() === ws) onClose(code);
    });
  });
}
