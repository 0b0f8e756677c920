/** An API error: the envelope's code, message and details, with the HTTP status (0 for socket-side failures). */
export class EdgeImError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "EdgeImError";
  }
}
