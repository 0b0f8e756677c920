import createClient, { type Client } from "openapi-fetch";
import { EdgeImError } from "./errors";
import type { components, paths } from "./openapi";
import { Realtime, type OpenSocket, type RealtimeOptions, browserSocket } from "./realtime";
import { uploadFile, type UploadOptions } from "./upload";

export type Schemas = components["schemas"];
/** Tokens and identity after sign-up, log-in or refresh. */
export type Session = Pick<Schemas["Session"], "id" | "username" | "token" | "refresh_token">;

export interface ClientOptions {
  /** The server's origin, e.g. https://chat.example.com (the API is under /api/v1). Default: the page's origin. */
  baseUrl?: string;
  session?: Session | null;
  /** Called whenever the session changes (login, refresh, logout): persist it here. */
  onSession?: (session: Session | null) => void;
  fetch?: typeof fetch;
  openSocket?: OpenSocket;
}

/** What openapi-fetch resolves with. */
interface ApiResult {
  data?: unknown;
  error?: unknown;
  response: Response;
}
/** The envelope's `data` of a typed call's success body. */
export type DataOf<R> = R extends { data: infer D } ? Unwrap<D> : never;
type Unwrap<D> = D extends { data: infer X } ? X : D;

interface ErrorBody {
  code?: string;
  error?: string;
  details?: unknown;
}

/**
 * The SDK's entry point. `api` is an openapi-fetch client typed from the server's OpenAPI document
 * (every path, parameter and body checked at compile time); `data()` unwraps its envelope or throws an
 * EdgeImError. Tokens are attached and an expired access token is refreshed once and the call retried.
 *
 * ```ts
 * const im = new EdgeIm({ baseUrl: "https://chat.example.com", onSession: save });
 * await im.login({ username, password });
 * const { conversations } = await im.data(im.api.GET("/conversations"));
 * ```
 */
export class EdgeIm {
  session: Session | null;
  readonly baseUrl: string;
  readonly api: Client<paths>;
  readonly openSocket: OpenSocket;
  /** The fetch the SDK was given (no auth added). */
  readonly rawFetch: typeof fetch;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly options: ClientOptions = {}) {
    const origin = options.baseUrl ?? (globalThis as { location?: { origin: string } }).location?.origin;
    if (!origin) throw new Error("baseUrl is required outside a browser page");
    this.baseUrl = origin.replace(/\/+$/, "");
    this.session = options.session ?? null;
    this.rawFetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.openSocket = options.openSocket ?? browserSocket;
    this.api = createClient<paths>({ baseUrl: `${this.baseUrl}/api/v1`, fetch: (request: Request) => this.authorizedFetch(request) });
  }

  private setSession(session: Session | null) {
    this.session = session;
    this.options.onSession?.(session);
  }

  /** Sends with the current access token; on TOKEN_EXPIRED refreshes once and sends again. */
  private async authorizedFetch(request: Request, retried = false): Promise<Response> {
    const spare = retried ? null : request.clone();
    const headers = new Headers(request.headers);
    if (this.session && !headers.has("authorization")) headers.set("authorization", `Bearer ${this.session.token}`);
    const res = await this.rawFetch(new Request(request, { headers }));
    if (res.status !== 401 || retried || !this.session || !spare || request.url.endsWith("/auth/refresh")) return res;
    const body = (await res.clone().json().catch(() => ({}))) as ErrorBody;
    if (body.code !== "TOKEN_EXPIRED") return res;
    await this.refresh();
    return this.authorizedFetch(spare, true);
  }

  /** The envelope's data of a typed call, or an EdgeImError with the envelope's code. */
  async data<R extends ApiResult>(call: Promise<R>): Promise<DataOf<R>> {
    const { data, error, response } = await call;
    if (response.ok && data !== undefined) {
      const body = data as { success?: boolean; data?: unknown };
      return (body && typeof body === "object" && "data" in body ? body.data : body) as DataOf<R>;
    }
    const e = (error ?? {}) as ErrorBody;
    throw new EdgeImError(response.status, e.code ?? "HTTP_ERROR", e.error ?? (response.statusText || `HTTP ${response.status}`), e.details);
  }

  async register(body: Schemas["RegisterBody"]) {
    this.setSession(pickSession(await this.data(this.api.POST("/auth/register", { body }))));
    return this.session!;
  }

  async login(body: Schemas["LoginBody"]) {
    this.setSession(pickSession(await this.data(this.api.POST("/auth/login", { body }))));
    return this.session!;
  }

  /** Rotates the refresh token (concurrent callers share one rotation). A refused refresh token signs out. */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const refresh_token = this.session?.refresh_token;
        if (!refresh_token) throw new EdgeImError(401, "UNAUTHORIZED", "Not signed in");
        const next = await this.data(this.api.POST("/auth/refresh", { body: { refresh_token } }));
        this.setSession({ ...this.session!, ...pickSession(next) });
      } catch (err) {
        if (err instanceof EdgeImError && err.status === 401) this.setSession(null);
        throw err;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  async logout() {
    try {
      if (this.session) await this.data(this.api.POST("/auth/logout"));
    } finally {
      this.setSession(null);
    }
  }

  /** Seconds until the access token expires (from its `exp` claim), or null if unknown. */
  tokenExpiresIn(now = Date.now()): number | null {
    const exp = tokenExp(this.session?.token);
    return exp === null ? null : exp - now / 1000;
  }

  /** A single-use, 60 s ticket for opening a socket without putting the access token in the URL. */
  async ticket(): Promise<string> {
    return (await this.data(this.api.POST("/ws/ticket"))).ticket;
  }

  /** The socket URL for a ticket (`?ticket=`, never `?token=`). */
  socketUrl(params: Record<string, string>) {
    const url = new URL(`${this.baseUrl}/api/v1/ws`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  }

  /**
   * A realtime connection: the user connection (everything for the user), or with `conversationId`
   * the fast path for the conversation on screen.
   */
  realtime(options: RealtimeOptions = {}) {
    return new Realtime(this, options);
  }

  /** Uploads a file (chunked and resumable when large) and returns the stored file. */
  upload(file: Blob & { name?: string }, options: UploadOptions = {}) {
    return uploadFile(this, file, options);
  }

  /** Fetch through the SDK's auth and refresh (for what the typed client cannot express, e.g. raw part bodies). */
  fetch(path: string, init: RequestInit = {}) {
    return this.authorizedFetch(new Request(`${this.baseUrl}/api/v1${path}`, init));
  }
}

function pickSession(s: Schemas["Session"]): Session {
  return { id: s.id, username: s.username, token: s.token, refresh_token: s.refresh_token };
}

/** The `exp` claim of a JWT (seconds), without verifying it (the server does). */
export function tokenExp(token: string | undefined): number | null {
  const part = token?.split(".")[1];
  if (!part) return null;
  try {
    const json = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/")));
    return typeof json.exp === "number" ? json.exp : null;
  } catch {
    return null;
  }
}
