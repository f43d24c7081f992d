/**
 * Fixtures of the API-only Endpoints and EndpointSlice tests: pods of a `web` Service bound to
 * node `edge-1` whose status the test sets as an agent would, and polling kubectl.
 *
 * @module
 */

import { assertOk, type Cluster, type CommandResult, sleep } from "./_harness.ts";

/** `kubectl apply` of one manifest. */
export async function apply(cluster: Cluster, manifest: unknown): Promise<void> {
  assertOk(
    await cluster.kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(manifest) }),
    "kubectl apply",
  );
}

/** `kubectl patch KIND NAME --subresource=status --type=merge -p STATUS`. */
export async function patchStatus(
  cluster: Cluster,
  kind: string,
  name: string,
  status: unknown,
): Promise<void> {
  assertOk(
    await cluster.kubectl([
      "patch",
      kind,
      name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status }),
    ]),
    `patch ${kind}/${name} status`,
  );
}

/** A pod of the `web` Service, bound to edge-1, serving the named port `http` on `port`. */
export function pod(name: string, port: number): unknown {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "web" } },
    spec: {
      nodeName: "edge-1",
      containers: [{
        name: "httpd",
        image: "localhost/edge-test:1",
        ports: [{ name: "http", containerPort: port }],
      }],
    },
  };
}

/** A running pod's status with its IP and readiness, as its agent would report it. */
export function podStatus(ip: string, ready: boolean): unknown {
  return {
    phase: "Running",
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
  };
}

/**
 * Runs `kubectl ARGS` until `ok(stdout)` holds (at most 30 s, polling each 200 ms) and returns
 * the last output; throws with that output when the condition never held.
 */
export async function kubectlUntil(
  cluster: Cluster,
  args: string[],
  ok: (stdout: string) => boolean,
  what: string,
): Promise<string> {
  let last: CommandResult | undefined;
  for (let i = 0; i < 150; i++) {
    last = await cluster.kubectl(args);
    if (last.code === 0 && ok(last.stdout)) return last.stdout;
    await sleep(200);
  }
  throw new Error(`${what}: never seen; last:\n${last?.stdout}\n${last?.stderr}`);
}
