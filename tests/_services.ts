/**
 * Helpers of the service end-to-end tests: a backend that answers `GET /cgi-bin/who` with
 * `<pod name> <client address>` (busybox httpd + CGI), a client pod, and running commands
 * inside a pod's containers with `podman exec` from the node's namespace, so every request
 * starts inside a pod's network namespace (never from the host's).
 *
 * @module
 */

import { IMAGE } from "./_e2e.ts";
import { type MultiNode, runIn } from "./_multinode.ts";

/** The shell script a backend runs: httpd on 8080 (and 8081) with the `who` CGI. */
const BACKEND_SCRIPT = [
  "mkdir -p /www/cgi-bin",
  `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "$(hostname) $REMOTE_ADDR"\\n' > /www/cgi-bin/who`,
  "chmod +x /www/cgi-bin/who",
  "httpd -p 8081 -h /www",
  "exec httpd -f -p 8080 -h /www",
].join(" && ");

/** A backend container (ports `http` 8080 and `alt` 8081, ready once `who` answers). */
export function backendContainer(): Record<string, unknown> {
  return {
    name: "httpd",
    image: IMAGE,
    imagePullPolicy: "Never",
    command: ["sh", "-c", BACKEND_SCRIPT],
    ports: [
      { name: "http", containerPort: 8080 },
      { name: "alt", containerPort: 8081 },
    ],
    readinessProbe: {
      httpGet: { path: "/cgi-bin/who", port: 8080 },
      periodSeconds: 1,
    },
  };
}

/** A backend Pod manifest (JSON text, which kubectl reads as YAML too). */
export function backendPod(
  name: string,
  labels: Record<string, string>,
  nodeSelector?: Record<string, string>,
): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: {
      terminationGracePeriodSeconds: 1,
      ...(nodeSelector ? { nodeSelector } : {}),
      containers: [backendContainer()],
    },
  });
}

/** A client Pod that sleeps; tests exec into it. */
export function clientPod(name: string, nodeSelector?: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { role: "client" } },
    spec: {
      terminationGracePeriodSeconds: 1,
      ...(nodeSelector ? { nodeSelector } : {}),
      containers: [{
        name: "c",
        image: IMAGE,
        imagePullPolicy: "Never",
        command: ["sleep", "3600"],
      }],
    },
  });
}

/** The podman name of the running container `container` of pod `pod` on `member`. */
export async function containerOf(
  c: MultiNode,
  member: string,
  pod: string,
  container: string,
): Promise<string> {
  const r = await runIn(c.fabric, member, "podman", [
    "ps",
    "--format",
    "{{.Names}}",
    "--filter",
    `label=io.edge.pod.name=${pod}`,
    "--filter",
    `label=io.edge.container.name=${container}`,
    "--filter",
    `label=io.edge.node=${c.nodeName(member)}`,
  ]);
  const name = r.stdout.split("\n").map((l) => l.trim()).find((l) => l !== "");
  if (!name) throw new Error(`no running container ${pod}/${container} on ${member}`);
  return name;
}

/** Runs `sh -c SCRIPT` inside a container (the pod's network namespace). */
export async function shIn(
  c: MultiNode,
  member: string,
  container: string,
  script: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return await runIn(c.fabric, member, "podman", ["exec", container, "sh", "-c", script]);
}

/**
 * `wget -qO- URL` bounded by `timeout` (busybox's own `wget -T` crashes in the test image).
 */
export function fetchCmd(url: string, seconds = 5): string {
  return `timeout ${seconds} wget -qO- "${url}"`;
}

/** A shell loop of `count` bounded requests to `url`, one answer per line (`FAIL` if none). */
export function requestLoop(url: string, count: number): string {
  return `for i in $(seq ${count}); do ${fetchCmd(url)} || echo FAIL; done`;
}

/** The pod names in `who` answers, with how many times each answered. */
export function answersByPod(stdout: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of stdout.split("\n")) {
    const pod = line.trim().split(" ")[0];
    if (!pod) continue;
    counts.set(pod, (counts.get(pod) ?? 0) + 1);
  }
  return counts;
}
