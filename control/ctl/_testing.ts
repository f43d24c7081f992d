/**
 * Test support for ctl: resource types, a fake API server behind an injected `fetch`, and a
 * runner that captures output. Used only by `*_test.ts`.
 *
 * @module
 */

import type { ResourceInfo } from "./_resources.ts";
import { runCtl } from "./ctl.ts";

const rt = (
  group: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  shortNames: string[] = [],
  categories: string[] = [],
): ResourceInfo => ({
  group,
  version: "v1",
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced,
  shortNames,
  categories,
});

/** The resource types the tests know. */
export const TEST_TYPES: ResourceInfo[] = [
  rt("", "ConfigMap", "configmaps", true, ["cm"]),
  rt("", "Secret", "secrets", true),
  rt("", "Pod", "pods", true, ["po"], ["all"]),
  rt("", "Service", "services", true, ["svc"], ["all"]),
  rt("", "Node", "nodes", false, ["no"]),
  rt("", "Namespace", "namespaces", false, ["ns"]),
  rt("", "Event", "events", true, ["ev"]),
  rt("apps", "Deployment", "deployments", true, ["deploy"], ["all"]),
];

/** One request the fake server saw. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Headers;
  body?: unknown;
}

/** What a route answers: a JSON body (status 200 unless given) or a raw text stream. */
export type Answer = { status?: number; body?: unknown; text?: string };

/** A `fetch` that serves `route`'s answers and records every request; unknown routes are 404. */
export function fakeFetch(route: (req: SeenRequest) => Answer | undefined) {
  const requests: SeenRequest[] = [];
  const fetchFn: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const text = typeof init?.body === "string" ? init.body : undefined;
    const req: SeenRequest = {
      method: init?.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: new Headers(init?.headers),
      ...(text !== undefined ? { body: JSON.parse(text) } : {}),
    };
    requests.push(req);
    const answer = route(req) ?? {
      status: 404,
      body: status("NotFound", 404, "the server could not find the requested resource"),
    };
    await Promise.resolve();
    return new Response(answer.text ?? JSON.stringify(answer.body ?? {}), {
      status: answer.status ?? 200,
      headers: { "content-type": "application/json" },
    });
  };
  return { fetch: fetchFn, requests };
}

/** A Kubernetes `Status` failure body. */
export function status(reason: string, code: number, message: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    reason,
    code,
    message,
  };
}

/** A NotFound answer for `resource "name"`. */
export function notFound(resource: string, name: string): Answer {
  return { status: 404, body: status("NotFound", 404, `${resource} "${name}" not found`) };
}

/** Write a kubeconfig for `https://api.test:6443` with token `t0k3n` into a temp dir. */
export async function tempKubeconfig(extra = ""): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ctl_test_" });
  const path = `${dir}/config`;
  await Deno.writeTextFile(
    path,
    `apiVersion: v1
kind: Config
current-context: edge
clusters:
- name: edge
  cluster:
    server: https://api.test:6443
contexts:
- name: edge
  context:
    cluster: edge
    user: admin
users:
- name: admin
  user:
    token: t0k3n
${extra}`,
  );
  return { dir, path };
}

/** The fixed clock of the tests. */
export const NOW = new Date("2024-05-01T12:00:00Z");

/** Run ctl against `fetchFn` with a temp kubeconfig; returns exit code and captured output. */
export async function run(
  args: string[],
  fetchFn: typeof fetch,
  extra: { stdin?: string; signal?: AbortSignal } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { dir, path } = await tempKubeconfig();
  let stdout = "";
  let stderr = "";
  try {
    const code = await runCtl(args, {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      env: { KUBECONFIG: path },
      fetch: fetchFn,
      resources: TEST_TYPES,
      now: () => NOW,
      ...(extra.stdin !== undefined ? { stdin: extra.stdin } : {}),
      ...(extra.signal ? { signal: extra.signal } : {}),
    });
    return { code, stdout, stderr };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
