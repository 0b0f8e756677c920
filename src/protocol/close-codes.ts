/** WebSocket close codes the server uses (PROTOCOL.md, "Sessions on an open socket"). */
export const CloseCodes = {
  /** A new connection from the same device (and binding) replaced this one. */
  replaced: 4000,
  /** The token (or ticket) was missing, invalid or expired when the socket authenticated. */
  authFailed: 4001,
  /** No auth frame (or socket.io CONNECT) within the allowed time. */
  authTimeout: 4002,
  /** Removed from the conversation, or not allowed to hold this connection. */
  removed: 4003,
  /** The session the socket belongs to ended (logout, revoked, password change, account disabled). */
  sessionEnded: 4004,
  /** The socket's token expired without an `auth` frame renewing it. */
  tokenExpired: 4005,
  /** Kept sending oversize, malformed or too many frames. */
  policy: 1008,
} as const;

export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];
