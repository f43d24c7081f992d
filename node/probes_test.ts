import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import type { ContainerValue, PodSpecValue } from "../storage/kinds/_pod_spec.ts";
import { TestRuntime } from "./_worker_test_runtime.ts";
import { testPod } from "./_worker_test_pod.ts";
import { PodProbes } from "./probes.ts";

function container(extra: Record<string, unknown>): ContainerValue {
  const spec = testPod({ containers: [{ name: "web", image: "busybox:1.36", ...extra }] })
    .spec as PodSpecValue;
  const c = spec.containers[0];
  assert.ok(c);
  return c;
}

Deno.test("PodProbes.ready() is true for a running container without a readiness probe", () => {
  const clock = new FakeClock(0);
  const probes = new PodProbes({
    runtime: new TestRuntime(clock),
    clock,
    podUid: "uid-1",
    onChange: () => {},
  });
  assert.equal(probes.ready("web"), false);
  probes.update([{ spec: container({}), id: "c1", startedAt: 0 }]);
  assert.equal(probes.ready("web"), true);
  assert.equal(probes.started("web"), true);
  probes.update([]);
  assert.equal(probes.ready("web"), false);
});

Deno.test("PodProbes exec readiness needs successThreshold successes and reports changes", async () => {
  const clock = new FakeClock(0);
  const runtime = new TestRuntime(clock);
  let changes = 0;
  const probes = new PodProbes({ runtime, clock, podUid: "uid-1", onChange: () => changes++ });
  const spec = container({
    readinessProbe: { exec: { command: ["true"] }, periodSeconds: 5, successThreshold: 2 },
  });
  probes.update([{ spec, id: "c1", startedAt: 0 }]);
  await clock.advance(0);
  assert.equal(probes.ready("web"), false);
  await clock.advance(5_000);
  assert.equal(probes.ready("web"), true);
  assert.equal(changes, 1);
  probes.stop();
});

Deno.test("PodProbes.livenessFailed() turns true after failureThreshold exec failures", async () => {
  const clock = new FakeClock(0);
  const runtime = new TestRuntime(clock);
  runtime.execResults.set("c1", false);
  const probes = new PodProbes({ runtime, clock, podUid: "uid-1", onChange: () => {} });
  const spec = container({
    livenessProbe: { exec: { command: ["false"] }, periodSeconds: 10, failureThreshold: 3 },
  });
  probes.update([{ spec, id: "c1", startedAt: 0 }]);
  await clock.advance(10_000);
  assert.equal(probes.livenessFailed("web"), false);
  await clock.advance(10_000);
  assert.equal(probes.livenessFailed("web"), true);
  assert.equal(probes.failure("web")?.type, "liveness");
  probes.stop();
});

Deno.test("PodProbes passes httpGet.host and tcpSocket.host to the runtime", async () => {
  const clock = new FakeClock(0);
  const runtime = new TestRuntime(clock);
  const probed: unknown[] = [];
  const probe = runtime.probe.bind(runtime);
  runtime.probe = (uid, p, ms) => (probed.push(p), probe(uid, p, ms));
  const probes = new PodProbes({ runtime, clock, podUid: "uid-1", onChange: () => {} });
  probes.update([{
    spec: container({
      ports: [{ name: "http", containerPort: 8080 }],
      readinessProbe: { httpGet: { port: "http", path: "/ready", host: "10.0.0.7" } },
      livenessProbe: { tcpSocket: { port: 9090, host: "db.local" } },
    }),
    id: "c1",
    startedAt: 0,
  }]);
  await clock.advance(0);
  assert.deepEqual(
    probed.map((p) => JSON.stringify(p)).sort(),
    [
      JSON.stringify({
        kind: "http",
        port: 8080,
        path: "/ready",
        scheme: "HTTP",
        headers: [],
        host: "10.0.0.7",
      }),
      JSON.stringify({ kind: "tcp", port: 9090, host: "db.local" }),
    ].sort(),
  );
  probes.stop();
});
