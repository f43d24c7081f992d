/**
 * The HTTP side of ctl: a small Kubernetes REST client and the errors it raises, printed the
 * way kubectl's `cmdutil.CheckErr` prints them.
 *
 * @module
 */

import { isPlainObject } from "../../storage/object.ts";
import type { ClusterAccess } from "./kubeconfig.ts";

/** A client-side error; printed as `error: <message>`. */
export class CtlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CtlError";
  }
}

/** The fields of a `Status` error body that ctl reads. */
export interface StatusBody {
  message: string;
  reason?: string;
  code?: number;
  details?: { name?: string; kind?: string; group?: string; causes?: unknown[] };
}

/** An error response from the API server; printed as `Error from server (Reason): message`. */
export class StatusError extends Error {
  constructor(readonly status: StatusBody) {
    super(status.message);
    this.name = "StatusError";
  }

  /** The HTTP status code (0 when unknown). */
  get code(): number {
    return this.status.code ?? 0;
  }

  /** This error with `prefix` in front of the message, as kubectl's `AddSourceToErr`. */
  withPrefix(prefix: string): StatusError {
    return new StatusError({ ...this.status, message: prefix + this.status.message });
  }
}

/** The API server could not be reached at all. */
export class ConnectionError extends Error {
  constructor(readonly server: string, readonly refused: boolean, detail: string) {
    super(detail);
    this.name = "ConnectionError";
  }
}

/** True when `err` is a `NotFound` answer from the server. */
export function isNotFound(err: unknown): boolean {
  return err instanceof StatusError && (err.status.reason === "NotFound" || err.code === 404);
}

/** `err` with `prefix` before its message (kubectl's `AddSourceToErr`); other errors unchanged. */
export function prefixError(err: unknown, prefix: string): unknown {
  if (err instanceof StatusError) return err.withPrefix(prefix);
  if (err instanceof CtlError) return new CtlError(prefix + err.message);
  return err;
}

/** The one line (or block) kubectl prints for `err`, without the trailing newline. */
export function errorMessage(err: unknown): string {
  if (err instanceof StatusError) {
    const s = err.status;
    if (s.reason === "Unauthorized") {
      return `error: You must be logged in to the server (${s.message})`;
    }
    return s.reason
      ? `Error from server (${s.reason}): ${s.message}`
      : `Error from server: ${s.message}`;
  }
  if (err instanceof ConnectionError) {
    if (err.refused) {
      return `The connection to the server ${
        hostOf(err.server)
      } was refused - did you specify the right host or port?`;
    }
    return `Unable to connect to the server ${hostOf(err.server)}: ${err.message}`;
  }
  if (err instanceof Error) return `error: ${err.message}`;
  return `error: ${String(err)}`;
}

function hostOf(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server;
  }
}

/** Options of one request. */
export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
}

/** One event of a watch stream. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: Record<string, unknown>;
}

/** The `Accept` header that asks for a `meta.k8s.io/v1` Table, falling back to JSON. */
export const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";

const SYNTHESIZED: Record<number, [string, string]> = {
  400: ["BadRequest", "the server rejected our request for an unknown reason"],
  401: ["Unauthorized", "Unauthorized"],
  403: ["Forbidden", "the server does not allow access to the requested resource"],
  404: ["NotFound", "the server could not find the requested resource"],
  405: ["MethodNotAllowed", "the server does not allow this method on the requested resource"],
  409: ["Conflict", "the server reported a conflict"],
  415: ["UnsupportedMediaType", "the server responded with the status code 415"],
  422: ["Invalid", "the server rejected our request due to an error in our request"],
  429: [
    "TooManyRequests",
    "the server has received too many requests and has asked us to try again later",
  ],
  503: ["ServiceUnavailable", "the server is currently unable to handle the request"],
  504: ["Timeout", "the server was unable to return a response in the time allotted"],
};

/** A Kubernetes REST client over `fetch`, with bearer-token auth and kubectl-style errors. */
export class KubeClient {
  constructor(
    readonly access: ClusterAccess,
    private readonly fetchFn: typeof fetch,
    private readonly httpClient?: Deno.HttpClient,
  ) {}

  /** Send a request and return the raw response; throws {@linkcode ConnectionError}. */
  async send(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.access.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== "") url.searchParams.set(k, v);
    }
    const headers = new Headers({ Accept: opts.accept ?? "application/json" });
    if (this.access.token) headers.set("Authorization", `Bearer ${this.access.token}`);
    const init: RequestInit & { client?: Deno.HttpClient } = { method, headers };
    if (opts.body !== undefined) {
      headers.set("Content-Type", opts.contentType ?? "application/json");
      init.body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    }
    if (opts.signal) init.signal = opts.signal;
    if (this.httpClient) init.client = this.httpClient;
    try {
      return await this.fetchFn(url, init);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const detail = errorChain(err);
      throw new ConnectionError(this.access.server, /connection refused/i.test(detail), detail);
    }
  }

  /** Send a request and parse the JSON answer; non-2xx answers throw {@linkcode StatusError}. */
  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await res.text();
    if (!res.ok) throw statusError(res.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CtlError(`the server returned a response that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  /** Stream a watch: one {@linkcode WatchEvent} per line until the server ends the stream. */
  async *watch(path: string, opts: RequestOptions = {}): AsyncGenerator<WatchEvent> {
    const res = await this.send("GET", path, {
      ...opts,
      query: { ...opts.query, watch: "1" },
    });
    if (!res.ok) throw statusError(res.status, await res.text());
    if (!res.body) return;
    let buffer = "";
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) yield parseEvent(line);
      }
    }
    if (buffer.trim()) yield parseEvent(buffer.trim());
  }
}

function parseEvent(line: string): WatchEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new CtlError(`unable to decode a watch event: ${line.slice(0, 200)}`);
  }
  if (!isPlainObject(value) || typeof value.type !== "string" || !isPlainObject(value.object)) {
    throw new CtlError(`unable to decode a watch event: ${line.slice(0, 200)}`);
  }
  return value as unknown as WatchEvent;
}

/** The {@linkcode StatusError} for an HTTP error answer with body `text`. */
export function statusError(code: number, text: string): StatusError {
  try {
    const body = JSON.parse(text);
    if (isPlainObject(body) && body.kind === "Status" && typeof body.message === "string") {
      return new StatusError({ ...(body as unknown as StatusBody), code });
    }
  } catch {
    // not JSON: synthesize the Status like client-go does
  }
  const known = SYNTHESIZED[code];
  if (known) return new StatusError({ reason: known[0], message: known[1], code });
  if (code >= 500) {
    return new StatusError({
      reason: "InternalError",
      message: `an error on the server (${
        JSON.stringify(text.trim())
      }) has prevented the request from succeeding`,
      code,
    });
  }
  return new StatusError({
    message:
      `the server responded with the status code ${code} but did not return more information`,
    code,
  });
}

function errorChain(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  while (cur instanceof Error && parts.length < 5) {
    parts.push(cur.message);
    cur = cur.cause;
  }
  return parts.join(": ") || String(err);
}
