import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { AppError } from "./errors";

/** Router whose validation failures become the one error envelope (400 VALIDATION_ERROR with zod issues). */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
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

/** Error responses a route documents; 400 and 500 come with every route. */
export function errors(...statuses: (401 | 403 | 404 | 409 | 413 | 415 | 416 | 426 | 429)[]) {
  const text: Record<number, string> = {
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
  const out: Record<number, ReturnType<typeof errorResponse>> = { 400: errorResponse(text[400]), 500: errorResponse(text[500]) };
  for (const s of statuses) out[s] = errorResponse(text[s]);
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
