import { OpenAPIHono, z, type RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "./errors";

/**
 * Router whose validation failures become the one error envelope (400 VALIDATION_ERROR with zod
 * issues), and whose every operation is documented completely (see `documented`) whatever its
 * route declares.
 */
export function createRouter() {
  const router = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message, code: i.code }));
        const first = issues[0];
        throw new AppError("VALIDATION_ERROR", first ? `${first.path || result.target}: ${first.message}` : "Invalid input", {
          details: issues,
        });
      }
    },
  });
  const register = router.openapi;
  router.openapi = ((route: RouteConfig, ...rest: unknown[]) => (register as (...args: unknown[]) => unknown)(documented(route), ...rest)) as typeof router.openapi;
  return router;
}

/** getUsers, postUploadsByIdProof, getConversationsByIdMessagesByMessageId: unique per method and path. */
export function operationIdFor(method: string, path: string) {
  const words = path
    .split("/")
    .filter(Boolean)
    .map((seg) => (seg.startsWith("{") ? `by_${seg.slice(1, -1)}` : seg))
    .flatMap((seg) => seg.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0].toUpperCase() + w.slice(1)).join("");
}

/**
 * What every operation documents, filled in when its route does not say:
 * - an operationId (from method and path);
 * - a security declaration: a route without one is public (`security: []`), as the routers'
 *   convention has it (protected routes declare `bearer`; test/routes/openapi.test.ts checks each
 *   declaration against what the route answers without a token);
 * - its 4xx, each with the error envelope: 400 (validation) always, 401 when a token is accepted,
 *   413 and 415 when it takes a JSON body, 429 under /auth (the per-address limiter), and 500.
 */
export function documented<R extends RouteConfig>(route: R): R {
  const security = route.security ?? [];
  const responses: RouteConfig["responses"] = { ...route.responses };
  const fill = (status: number) => {
    responses[status] ??= errorResponse(errorText[status]);
  };
  fill(400);
  if (security.some((s) => Object.keys(s).length > 0)) fill(401);
  if (route.request?.body?.content?.["application/json"]) {
    fill(413);
    fill(415);
  }
  if (route.path.startsWith("/auth/")) fill(429);
  fill(500);
  // an error response always carries the envelope
  for (const [status, res] of Object.entries(responses)) {
    if (/^[45]/.test(status) && !("$ref" in res) && !res.content) responses[status] = { ...res, content: errorResponse(res.description ?? "Error").content };
  }
  const out = { ...route, operationId: route.operationId ?? operationIdFor(route.method, route.path), security, responses };
  const routingPath = (route as { getRoutingPath?: () => string }).getRoutingPath;
  if (routingPath) Object.defineProperty(out, "getRoutingPath", { value: routingPath, enumerable: false });
  return out;
}

export function envelope<T extends z.ZodType>(data: T, description = "Success") {
  return {
    description,
    content: {
      "application/json": {
        schema: z.object({ success: z.literal(true), message: z.string(), data }),
      },
    },
  };
}

export const ErrorEnvelope = z
  .object({
    success: z.literal(false),
    message: z.string(),
    error: z.string(),
    code: z.string(),
    details: z.unknown().optional(),
    request_id: z.string().optional(),
  })
  .openapi("Error");

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorEnvelope } },
});

const errorText: Record<number, string> = {
  400: "Invalid input",
  401: "Missing, invalid or expired token",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  413: "Too large",
  415: "Unsupported media type",
  416: "Range not satisfiable",
  426: "WebSocket upgrade required",
  429: "Rate limited (Retry-After)",
  500: "Server error",
};

/** Error responses a route documents; 400 and 500 come with every route (and `documented` adds the rest it can tell). */
export function errors(...statuses: (401 | 403 | 404 | 409 | 413 | 415 | 416 | 426 | 429)[]) {
  const out: Record<number, ReturnType<typeof errorResponse>> = { 400: errorResponse(errorText[400]), 500: errorResponse(errorText[500]) };
  for (const s of statuses) out[s] = errorResponse(errorText[s]);
  return out;
}

export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, description, content: { "application/json": { schema } } };
}

export const bearer: Record<string, string[]>[] = [{ bearerAuth: [] }];
/** Public, with more for a signed-in caller (an invalid token is still refused). */
export const optionalBearer: Record<string, string[]>[] = [{}, { bearerAuth: [] }];

export function ok<T, S extends 200 | 201 | 202 = 200>(c: Context<AppEnv>, message: string, data: T, status?: S) {
  return c.json({ success: true as const, message, data }, (status ?? 200) as S);
}
