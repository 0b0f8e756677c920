/**
 * @edge-im/client: the edge-im API with typed REST calls (generated from the server's OpenAPI
 * document), token refresh, chunked resumable uploads, and realtime connections that keep the
 * delivery guarantees on the client's side too — every message once, in seq order, nothing missed
 * across reconnects (sync from the last seq seen), and sends that survive a dropped connection
 * (resent with the same client_id until acknowledged; the server stores each client_id once).
 *
 * It needs `fetch` and a WebSocket, both injectable (browsers and Node 22+ have them; on Node 20 pass
 * `openSocket` built on the `ws` package).
 */
export { EdgeIm, tokenExp, type ClientOptions, type DataOf, type Schemas, type Session } from "./client";
export { EdgeImError } from "./errors";
export {
  CloseCodes,
  Realtime,
  browserSocket,
  type ClientFrameInput,
  type EventFrameType,
  type Message,
  type MessageViewT,
  type OpenSocket,
  type OutgoingMessage,
  type RealtimeEvents,
  type RealtimeOptions,
  type ServerFrame,
  type ServerFrameFields,
  type SocketLike,
} from "./realtime";
export { uploadFile, type StoredFile, type UploadOptions } from "./upload";
export type { components, paths } from "./openapi";
export { OPENAPI_SHA256 } from "./openapi";
