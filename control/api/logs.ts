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

/** An HTTP client trusting one node's agent CA, and the log streams using it. */
export interface AgentClient {
  readonly ca: string;
  readonly client: Deno.HttpClient;
  streams: number;
}

/**
 * One client per node (kept for the process, as many as nodes). A node whose CA changed (its
 * agent lost its pki dir) gets a new one; the old one is closed once its last stream ends.
 */
const clients = new Map<string, AgentClient>();
/** Replaced clients with streams still open. */
const retired = new Set<AgentClient>();

/** The client for `node`'s agent trusting `ca`, counted as used until {@linkcode releaseClient}. */
export function acquireClient(node: string, ca: string): AgentClient {
  let entry = clients.get(node);
  if (!entry || entry.ca !== ca) {
    if (entry) {
      if (entry.streams === 0) entry.client.close();
      else retired.add(entry);
    }
    entry = { ca, client: Deno.createHttpClient({ caCerts: [ca] }), streams: 0 };
    clients.set(node, entry);
  }
  entry.streams++;
  return entry;
}

/** One use of `entry` ended; a replaced client is closed after its last. */
export function releaseClient(entry: AgentClient): void {
  entry.streams--;
  if (entry.streams === 0 && retired.delete(entry)) entry.client.close();
}

/** How many agent clients are open: one per node, plus replaced ones still streaming. */
export function openAgentClients(): number {
  return clients.size + retired.size;
}

/** The agent URL for a log request. */
export function agentLogUrl(
  node: KubeObject,
  pod: KubeObject,
  container: string,
  url: URL,
): { url: string; ca: string; node: string } {
  const q = new URLSearchParams();
  for (const key of PASSED) {
    const v = url.searchParams.get(key);
    if (v !== null) q.set(key, v);
  }
  const path = `/containerLogs/${pod.metadata.namespace}/${pod.metadata.name}/${container}`;
  const qs = q.toString();
  const { url: base, ca } = agentAddress(node);
  return { url: `${base}${path}${qs ? `?${qs}` : ""}`, ca, node: node.metadata.name ?? "" };
}

/**
 * Fetch the log stream from the agent and hand it back as the response. The agent's own error
 * Status (e.g. container not started) is passed through.
 */
export async function proxyLogs(
  target: { url: string; ca: string; node: string },
  agentToken: string,
  signal: AbortSignal,
): Promise<Response> {
  const agent = acquireClient(target.node, target.ca);
  let res: Response;
  try {
    res = await fetch(target.url, {
      headers: { authorization: `Bearer ${agentToken}` },
      signal,
      client: agent.client,
    });
  } catch (e) {
    releaseClient(agent);
    throw new ApiError(
      "ServiceUnavailable",
      `cannot reach the node agent at ${new URL(target.url).host}: ${(e as Error).message}`,
    );
  }
  const headers = new Headers({
    "content-type": res.headers.get("content-type") ?? "text/plain",
    "cache-control": "no-cache, private",
  });
  if (!res.body) {
    releaseClient(agent);
    return new Response(null, { status: res.status, headers });
  }
  const body = endOnAbort(res.body, signal, () => releaseClient(agent));
  return new Response(body, { status: res.status, headers });
}

/**
 * `body`, except that when `signal` aborts (the client went away) the stream ends instead of
 * failing with the abort: nothing went wrong that is worth an error in the server's log.
 * `onEnd` runs once when the stream ends, fails or is cancelled.
 */
function endOnAbort(body: ReadableStream<Uint8Array>, signal: AbortSignal, onEnd: () => void) {
  const reader = body.getReader();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          end();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        end();
        if (signal.aborted) controller.close();
        else controller.error(error);
      }
    },
    cancel: (reason) => {
      end();
      return reader.cancel(reason);
    },
  });
}
