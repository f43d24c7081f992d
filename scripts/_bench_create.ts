/**
 * Create throughput: `clients` concurrent loops POST ConfigMaps until `count` are sent or
 * `maxMs` has passed, whichever comes first.
 *
 * @module
 */

import { type Endpoint, httpRequest } from "../tests/_harness.ts";

/** What one create run measured. */
export interface CreateResult {
  /** creates that got 201 */
  created: number;
  /** creates that got anything else */
  failed: number;
  /** the first unexpected response, for the report */
  firstFailure?: string;
  elapsedMs: number;
  /** per-request latency of the successful creates */
  latenciesMs: number[];
}

/** Options for {@linkcode benchCreate}. */
export interface CreateOptions {
  endpoint: Endpoint;
  namespace: string;
  clients: number;
  count: number;
  maxMs: number;
}

/** Runs one create level; names are `c{clients}-{i}` so levels do not collide. */
export async function benchCreate(options: CreateOptions): Promise<CreateResult> {
  const { endpoint, namespace, clients, count, maxMs } = options;
  const result: CreateResult = { created: 0, failed: 0, elapsedMs: 0, latenciesMs: [] };
  const path = `/api/v1/namespaces/${namespace}/configmaps`;
  const start = performance.now();
  const deadline = start + maxMs;
  let next = 0;

  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      const body = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: `c${clients}-${i}`, labels: { bench: "create" } },
        data: { index: String(i), payload: "x".repeat(256) },
      };
      const t0 = performance.now();
      const response = await httpRequest(endpoint, "POST", path, body);
      const t1 = performance.now();
      if (response.status === 201) {
        result.created++;
        result.latenciesMs.push(t1 - t0);
      } else {
        result.failed++;
        result.firstFailure ??= `POST ${path} -> ${response.status} ${response.text.slice(0, 300)}`;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  result.elapsedMs = performance.now() - start;
  return result;
}

/** What one read run measured. */
export interface ReadResult {
  /** reads that got 200 */
  ok: number;
  firstFailure?: string;
  latenciesMs: number[];
}

/**
 * Read latency of a real-sized object: one client GETs `path` `count` times in a row on one
 * kept-alive connection, for at most `maxMs`. Catches per-response stalls (a head and body
 * sent as two segments, held by Nagle's algorithm until the client's delayed ACK) that tiny
 * objects never show.
 */
export async function benchRead(
  endpoint: Endpoint,
  path: string,
  count: number,
  maxMs: number,
): Promise<ReadResult> {
  const result: ReadResult = { ok: 0, latenciesMs: [] };
  const deadline = performance.now() + maxMs;
  for (let i = 0; i < count && performance.now() < deadline; i++) {
    const t0 = performance.now();
    const response = await httpRequest(endpoint, "GET", path);
    const t1 = performance.now();
    if (response.status === 200) {
      result.ok++;
      result.latenciesMs.push(t1 - t0);
    } else {
      result.firstFailure ??= `GET ${path} -> ${response.status} ${response.text.slice(0, 300)}`;
    }
  }
  return result;
}
