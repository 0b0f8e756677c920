/**
 * The edge-im realtime protocol (PROTOCOL.md) as code: client frame schemas, the server frames and
 * their builder, close codes, error codes and the message view. It imports nothing from the server
 * (no Workers APIs, no database), so the server, the SDK, the web client and the socket.io adapter
 * all take their types from here.
 */
export * from "./client-frames";
export * from "./close-codes";
export * from "./errors";
export * from "./messages";
export * from "./server-frames";
