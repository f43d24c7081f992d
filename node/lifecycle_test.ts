import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import type { ContainerValue } from "../storage/kinds/_pod_spec.ts";
import { TestRuntime } from "./_worker_test_runtime.ts";
import { type HookTarget, runHook } from "./lifecycle.ts";

function target(lifecycle: Record<string, unknown>, runtime: TestRuntime, clock: FakeClock) {
  const container = {
    name: "web",
    image: "busybox:1.36",
    ports: [{ name: "http", containerPort: 8080 }],
    lifecycle,
  } as unknown as ContainerValue;
  const t: HookTarget = {
    runtime,
    clock,
    podUid: "u-1",
    podName: "web_default(u-1)",
    container,
    containerId: "web-id",
  };
  return t;
}

Deno.test("runHook() runs exec and httpGet handlers and words failures as kubelet", async () => {
  const clock = new FakeClock(0);
  const runtime = new TestRuntime(clock);
  const exec = target({ preStop: { exec: { command: ["drain", "-q"] } } }, runtime, clock);
  assert.equal(await runHook(exec, "preStop", 1_000), undefined);
  assert.equal(await runHook(exec, "postStart", 1_000), undefined, "no such hook");
  runtime.execResults.set("web-id", false);
  assert.equal(
    await runHook(exec, "preStop", 1_000),
    'Exec lifecycle hook ([drain -q]) for Container "web" in Pod "web_default(u-1)" failed - ' +
      "error: drain -q: false",
  );
  const http = target({ postStart: { httpGet: { port: "http", path: "/ready" } } }, runtime, clock);
  assert.equal(await runHook(http, "postStart", 1_000), undefined);
  runtime.probeResults.set(8080, false);
  assert.equal(
    await runHook(http, "postStart", 1_000),
    'HTTP lifecycle hook (/ready) for Container "web" in Pod "web_default(u-1)" failed - ' +
      "error: connection refused",
  );
  const probed: unknown[] = [];
  const probe = runtime.probe.bind(runtime);
  runtime.probe = (uid, p, ms) => (probed.push(p), probe(uid, p, ms));
  const hosted = target(
    { preStop: { httpGet: { port: 9090, host: "127.0.0.2", scheme: "HTTPS" } } },
    runtime,
    clock,
  );
  assert.equal(await runHook(hosted, "preStop", 1_000), undefined);
  assert.deepEqual(probed, [
    { kind: "http", port: 9090, path: "/", scheme: "HTTPS", headers: [], host: "127.0.0.2" },
  ]);
  const noPort = target({ postStart: { httpGet: { port: "admin" } } }, runtime, clock);
  assert.match((await runHook(noPort, "postStart", 1_000))!, /couldn't find port admin$/);
  const tcp = target({ preStop: { tcpSocket: { port: 80 } } }, runtime, clock);
  assert.match((await runHook(tcp, "preStop", 1_000))!, /tcpSocket is not supported/);
});

Deno.test("runHook() sleeps on the clock, at most for the timeout", async () => {
  const clock = new FakeClock(0);
  const runtime = new TestRuntime(clock);
  const hook = runHook(
    target({ preStop: { sleep: { seconds: 30 } } }, runtime, clock),
    "preStop",
    5_000,
  );
  let done = false;
  hook.then(() => done = true);
  await clock.advance(4_999);
  assert.equal(done, false);
  await clock.advance(1);
  assert.equal(await hook, undefined);
});
