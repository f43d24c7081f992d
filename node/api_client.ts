/**
 * The node agent's client for the control plane: plain Kubernetes REST over HTTPS with a bearer
 * token, exactly as a remote box would talk to it (the agent never imports `control/`).
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "../storage/object.ts";
import { ApiError, REASON_CODES, type StatusReason } from "../storage/status.ts";

/** Where and how to reach the API server. */
export interface ApiClientOptions {
  /** e.g. `https://127.0.0.1:6443` */
  server: string;
  token: string;
  /** PEM of the cluster CA; required for https servers with a private CA */
  caCert?: string;
  /** per-request timeout for non-watch calls (default 30 s) */
  timeoutMs?: number;
}

/** One watch event as the API sends it. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

/** A list response. */
export interface ListResponse {
  items: KubeObject[];
  resourceVersion: string;
}

/** Thrown by {@linkcode ApiClient.watch} when the server says the resourceVersion is too old. */
export class WatchExpiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WatchExpiredError";
  }
}

function toApiError(status: number, body: unknown): ApiError {
  if (isPlainObject(body) && body.kind === "Status" && typeof body.reason === "string") {
    const reason = (body.reason in REASON_CODES ? body.reason : "InternalError") as StatusReason;
    return new ApiError(reason, String(body.message ?? reason));
  }
  const reason = (Object.entries(REASON_CODES).find(([, code]) => code === status)?.[0] ??
    "InternalError") as StatusReason;
  return new ApiError(reason, `the server answered ${status}`);
}

/** A small Kubernetes REST client. */
export class ApiClient {
  readonly #options: ApiClientOptions;
  readonly #http: Deno.HttpClient | undefined;

  constructor(options: ApiClientOptions) {
    this.#options = options;
    this.#http = options.caCert ? Deno.createHttpClient({ caCerts: [options.caCert] }) : undefined;
  }

  /** Release the HTTP client. */
  close(): void {
    this.#http?.close();
  }

  async #request(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#options.token}`,
      accept: "application/json",
    };
    const init: RequestInit & { client?: Deno.HttpClient } = { method, headers };
    if (this.#http) init.client = this.#http;
    if (body !== undefined) {
      headers["content-type"] = contentType;
      init.body = JSON.stringify(body);
    }
    init.signal = signal ?? AbortSignal.timeout(this.#options.timeoutMs ?? 30_000);
    return await fetch(`${this.#options.server}${path}`, init);
  }

  async #json(method: string, path: string, body?: unknown, contentType?: string) {
    const res = await this.#request(method, path, body, contentType);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw toApiError(res.status, parsed);
    return parsed;
  }

  /** GET an object; `null` when it does not exist. */
  async get(path: string): Promise<KubeObject | null> {
    try {
      return await this.#json("GET", path) as KubeObject;
    } catch (e) {
      if (e instanceof ApiError && e.reason === "NotFound") return null;
      throw e;
    }
  }

  /** GET a list. */
  async list(path: string, query: Record<string, string> = {}): Promise<ListResponse> {
    const q = new URLSearchParams(query).toString();
    const body = await this.#json("GET", q ? `${path}?${q}` : path) as {
      items?: KubeObject[];
      metadata?: { resourceVersion?: string };
    };
    return { items: body.items ?? [], resourceVersion: body.metadata?.resourceVersion ?? "0" };
  }

  /** POST a new object to a collection. */
  async create(collectionPath: string, obj: unknown): Promise<KubeObject> {
    return await this.#json("POST", collectionPath, obj) as KubeObject;
  }

  /** PUT an object. */
  async update(path: string, obj: unknown): Promise<KubeObject> {
    return await this.#json("PUT", path, obj) as KubeObject;
  }

  /** PATCH an object (merge patch unless told otherwise). */
  async patch(
    path: string,
    patch: unknown,
    type = "application/merge-patch+json",
  ): Promise<KubeObject> {
    return await this.#json("PATCH", path, patch, type) as KubeObject;
  }

  /** DELETE an object; false when it was already gone. */
  async delete(path: string, options: Record<string, unknown> = {}): Promise<boolean> {
    try {
      await this.#json("DELETE", path, { kind: "DeleteOptions", apiVersion: "v1", ...options });
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.reason === "NotFound") return false;
      throw e;
    }
  }

  /**
   * Watch a collection from `resourceVersion`. Yields events until the server ends the stream
   * or `signal` aborts; throws {@linkcode WatchExpiredError} on 410. `onOpen` is called once
   * the server has accepted the watch.
   */
  async *watch(
    path: string,
    query: Record<string, string>,
    signal: AbortSignal,
    onOpen?: () => void,
  ): AsyncGenerator<WatchEvent> {
    const q = new URLSearchParams({ ...query, watch: "1", allowWatchBookmarks: "true" });
    const res = await this.#request("GET", `${path}?${q}`, undefined, undefined, signal);
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const err = toApiError(res.status, parsed);
      if (err.code === 410) throw new WatchExpiredError(err.message);
      throw err;
    }
    if (!res.body) return;
    onOpen?.();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line) as WatchEvent;
          if (ev.type === "ERROR") {
            const status = ev.object as unknown as { code?: number; message?: string };
            if (status.code === 410) throw new WatchExpiredError(status.message ?? "expired");
            throw toApiError(status.code ?? 500, ev.object);
          }
          yield ev;
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }
}
