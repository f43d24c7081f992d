/**
 * List continuation tokens: the revision of the first page (so every page and the following
 * watch agree on one resourceVersion) and the last key served.
 *
 * @module
 */

import { isPlainObject } from "../../storage/object.ts";
import { ApiError } from "../../storage/status.ts";

/** What a continue token carries. */
export interface ContinueToken {
  revision: number;
  startAfter: string;
}

/** Encode a continue token (opaque base64url JSON, like kube-apiserver's). */
export function encodeContinue(token: ContinueToken): string {
  const json = JSON.stringify({ v: "meta.k8s.io/v1", rv: token.revision, start: token.startAfter });
  const bytes = new TextEncoder().encode(json);
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** Decode a continue token; anything malformed is a 400. */
export function decodeContinue(token: string): ContinueToken {
  const bad = () => ApiError.badRequest("continue key is not valid: invalid continue token");
  let parsed: unknown;
  try {
    const b64 = token.replaceAll("-", "+").replaceAll("_", "/");
    const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
    parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0))));
  } catch {
    throw bad();
  }
  if (
    !isPlainObject(parsed) || parsed.v !== "meta.k8s.io/v1" || typeof parsed.rv !== "number" ||
    !Number.isSafeInteger(parsed.rv) || typeof parsed.start !== "string" ||
    !parsed.start.startsWith("/")
  ) {
    throw bad();
  }
  return { revision: parsed.rv, startAfter: parsed.start };
}
