/**
 * The `pods/log` subresource: streamed from the node agent that runs the pod, through the API
 * server, so `kubectl logs [-f]` works. The agent serves kubelet's path
 * `/containerLogs/{namespace}/{pod}/{container}` over HTTPS on the port the Node publishes in
 * `status.daemonEndpoints.kubeletEndpoint.Port`, at the node's InternalIP; the API server sends
 * its token only to a certificate of the CA the Node publishes (`edge.io/serving-ca`).
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "../../storage/object.ts";
import { ApiError } from "../../storage/status.ts";
import { SERVING_CA_ANNOTATION } from "../../net/pki.ts";

/** The query parameters `kubectl logs` sends that we pass on. */
const PASSED = ["follow", "tailLines", "timestamps", "previous", "sinceSeconds", "sinceTime"];

/** Which container of `pod` the request means; Kubernetes' errors when it is ambiguous. */
export function logContainer(pod: KubeObject, requested: string | null): string {
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  const names = (key: string) =>
    (Array.isArray(spec[key]) ? spec[key] : [])
      .map((c) => (isPlainObject(c) ? String(c.name) : ""))
      .filter((n) => n);
  const app = names("containers");
  const all = [...names("initContainers"), ...app];
  const name = pod.metadata.name!;
  if (requested) {
    if (!all.includes(requested)) {
      throw ApiError.badRequest(
        `container ${requested} is not valid for pod ${name}`,
      );
    }
    return requested;
  }
  if (app.length === 1) return app[0]!;
  throw ApiError.badRequest(
    `a container name must be specified for pod ${name}, choose one of: [${app.join(" ")}]`,
  );
}

/** Where the agent of `node` serves logs (`https://IP:PORT`), and the CA its certificate has. */
export function agentAddress(node: KubeObject): { url: string; ca: string } {
  const annotations = node.metadata.annotations ?? {};
  const ca = annotations[SERVING_CA_ANNOTATION] ?? "";
  if (!ca.includes("BEGIN CERTIFICATE")) {
    throw new ApiError(
      "ServiceUnavailable",
      `node ${node.metadata.name} does not publish the CA of its agent's certificate ` +
        `(annotation ${SERVING_CA_ANNOTATION}); restart its agent`,
    );
  }
  const status = isPlainObject(node.status) ? node.status : {};
  const addresses = Array.isArray(status.addresses) ? status.addresses : [];
  const internal = addresses.find((a) => isPlainObject(a) && a.type === "InternalIP");
  const endpoints = isPlainObject(status.daemonEndpoints) ? status.daemonEndpoints : {};
  const kubelet = isPlainObject(endpoints.kubeletEndpoint) ? endpoints.kubeletEndpoint : {};
  const ip = isPlainObject(internal) ? String(internal.address) : "";
  const port = Number(kubelet.Port);
  if (!ip || !Number.isInteger(port) || port <= 0) {
    throw new ApiError(
      "ServiceUnavailable",
      `node ${node.metadata.name} does not publish an agent endpoint`,
    );
  }
  return { url: ip.includes(":") ? `https://[${ip}]:${port}` : `https://${ip}:${port}`, ca };
}

/** One HTTP client per agent CA, kept for the process (as many as nodes). */
const clients = new Map<string, Deno.HttpClient>();

function clientFor(ca: string): Deno.HttpClient {
  let client = clients.get(ca);
  if (!client) {
    client = Deno.createHttpClient({ caCerts: [ca] });
    clients.set(ca, client);
  }
  return client;
}

/** The agent URL for a log request. */
export function agentLogUrl(
  node: KubeObject,
  pod: KubeObject,
  container: string,
  url: URL,
): { url: string; ca: string } {
  const q = new URLSearchParams();
  for (const key of PASSED) {
    const v = url.searchParams.get(key);
    if (v !== null) q.set(key, v);
  }
  const path = `/containerLogs/${pod.metadata.namespace}/${pod.metadata.name}/${container}`;
  const qs = q.toString();
  const { url: base, ca } = agentAddress(node);
  return { url: `${base}${path}${qs ? `?${qs}` : ""}`, ca };
}

/**
 * Fetch the log stream from the agent and hand it back as the response. The agent's own error
 * Status (e.g. container not started) is passed through.
 */
export async function proxyLogs(
  target: { url: string; ca: string },
  agentToken: string,
  signal: AbortSignal,
): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(target.url, {
      headers: { authorization: `Bearer ${agentToken}` },
      signal,
      client: clientFor(target.ca),
    });
  } catch (e) {
    throw new ApiError(
      "ServiceUnavailable",
      `cannot reach the node agent at ${new URL(target.url).host}: ${(e as Error).message}`,
    );
  }
  const headers = new Headers({
    "content-type": res.headers.get("content-type") ?? "text/plain",
    "cache-control": "no-cache, private",
  });
  return new Response(res.body && endOnAbort(res.body, signal), { status: res.status, headers });
}

/**
 * `body`, except that when `signal` aborts (the client went away) the stream ends instead of
 * failing with the abort: nothing went wrong that is worth an error in the server's log.
 */
function endOnAbort(body: ReadableStream<Uint8Array>, signal: AbortSignal) {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (error) {
        if (signal.aborted) controller.close();
        else controller.error(error);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
