/**
 * The agent's log endpoint, kubelet's path: `GET /containerLogs/{namespace}/{pod}/{container}`
 * with `follow`, `tailLines`, `timestamps`, `previous`, `sinceSeconds`. The API server proxies
 * `pods/log` here. Requests must carry the agent's bearer token.
 *
 * @module
 */

import type { KubeObject } from "../storage/object.ts";
import { ApiError } from "../storage/status.ts";
import type { ContainerRuntime } from "./runtime.ts";

/** What the log endpoint needs from the agent. */
export interface LogServerDeps {
  runtime: ContainerRuntime;
  token: string;
  /** the pod this node runs under `namespace/name`, if any */
  findPod: (namespace: string, name: string) => KubeObject | undefined;
}

function statusResponse(e: ApiError): Response {
  return new Response(JSON.stringify(e.toStatus()), {
    status: e.code,
    headers: { "content-type": "application/json" },
  });
}

function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  if (!/^\d{1,9}$/.test(v)) throw ApiError.badRequest(`${name} must be a non-negative integer`);
  return Number(v);
}

/** The request handler for the agent's HTTP server. */
export function logHandler(deps: LogServerDeps): (req: Request) => Promise<Response> {
  return async function serveLogs(req: Request): Promise<Response> {
    try {
      if (req.headers.get("authorization") !== `Bearer ${deps.token}`) {
        throw ApiError.unauthorized();
      }
      const url = new URL(req.url);
      const m = /^\/containerLogs\/([a-z0-9-]+)\/([a-z0-9.-]+)\/([a-z0-9-]+)$/.exec(url.pathname);
      if (req.method !== "GET" || !m) {
        throw new ApiError("NotFound", "the server could not find the requested resource");
      }
      const [, namespace, name, container] = m as unknown as [string, string, string, string];
      const pod = deps.findPod(namespace, name);
      if (!pod) throw ApiError.notFound({ group: "", resource: "pods" }, name);
      const instances = (await deps.runtime.listContainers(pod.metadata.uid!))
        .filter((c) => c.name === container)
        .sort((a, b) => a.attempt - b.attempt);
      const previous = url.searchParams.get("previous") === "true";
      const chosen = previous ? instances.at(-2) : instances.at(-1);
      if (!chosen) {
        throw ApiError.badRequest(
          previous
            ? `previous terminated container "${container}" in pod "${name}" not found`
            : `container "${container}" in pod "${name}" is waiting to start: ContainerCreating`,
        );
      }
      const tailLines = intParam(url, "tailLines");
      const sinceSeconds = intParam(url, "sinceSeconds");
      const stream = deps.runtime.logs(chosen.id, {
        follow: url.searchParams.get("follow") === "true" && !previous,
        timestamps: url.searchParams.get("timestamps") === "true",
        ...(tailLines !== undefined ? { tailLines } : {}),
        ...(sinceSeconds !== undefined ? { sinceSeconds } : {}),
      });
      // a client that goes away cancels the body, which stops `podman logs --follow`
      return new Response(stream, {
        headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache" },
      });
    } catch (e) {
      if (e instanceof ApiError) return statusResponse(e);
      return statusResponse(new ApiError("InternalError", String(e)));
    }
  };
}
