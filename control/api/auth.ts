/**
 * Bearer-token authentication: requests without a known token get 401 Unauthorized.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { ApiError } from "../../storage/status.ts";

function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Middleware accepting `Authorization: Bearer <token>` for one of `tokens`. */
export const bearerAuth = (tokens: readonly string[]): MiddlewareHandler =>
  async function bearerAuth(c, next) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const token = match?.[1];
    if (!token || !tokens.some((t) => constantTimeEqual(t, token))) {
      throw ApiError.unauthorized();
    }
    await next();
  };
