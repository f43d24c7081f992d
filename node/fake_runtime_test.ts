import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { RuntimeError } from "./runtime.ts";
import { TEST_IMAGE, testContainer, testSandbox } from "./_runtime_test_fixtures.ts";

const IMAGE = TEST_IMAGE;

const sandbox = testSandbox;
const container = testContainer;

/** A runtime with the test image, a FakeClock at 1000 and the sandbox "u1". */
async function setup() {
  const clock = new FakeClock(1000);
  const runtime = new FakeRuntime(clock);
  runtime.images.add(IMAGE);
  await runtime.createSandbox(sandbox("u1"));
  return { clock, runtime };
}

Deno.test("FakeRuntime.createSandbox() is idempotent by uid and listSandboxes() filters by node", async () => {
  const { runtime } = await setup();
  const again = await runtime.createSandbox(sandbox("u1"));
  await runtime.createSandbox(sandbox("u2", { node: "edge-2", hostNetwork: true }));
  const mine = await runtime.listSandboxes("edge-1");
  assert.deepEqual(mine.map((s) => [s.podUid, s.id, s.state]), [["u1", again.id, "ready"]]);
  assert.match(again.id, /^[0-9a-f]{64}$/);
  assert.equal(again.ip, "10.88.0.1");
  assert.equal((await runtime.listSandboxes("edge-2"))[0]?.ip, "");
  assert.deepEqual(runtime.calls, ["createSandbox u1", "createSandbox u1", "createSandbox u2"]);
});

Deno.test("FakeRuntime.ensureImage() follows pull policies with the kubelet's reasons", async () => {
  const runtime = new FakeRuntime(new FakeClock());
  runtime.images.add(IMAGE);
  runtime.pullable.add("docker.io/library/nginx:1");
  await runtime.ensureImage("edge-test:1", "Never"); // short name found under localhost/
  await runtime.ensureImage(IMAGE, "Always");
  await assert.rejects(
    runtime.ensureImage("localhost/other:1", "Never"),
    new RuntimeError(
      "ErrImageNeverPull",
      'Container image "localhost/other:1" is not present with pull policy of Never',
    ),
  );
  await assert.rejects(
    runtime.ensureImage("quay.io/x/y:2", "IfNotPresent"),
    (e) => e instanceof RuntimeError && e.reason === "ErrImagePull",
  );
  await assert.rejects(
    runtime.ensureImage("UPPER CASE", "IfNotPresent"),
    (e) => e instanceof RuntimeError && e.reason === "InvalidImageName",
  );
  await runtime.ensureImage("docker.io/library/nginx:1", "IfNotPresent");
  assert.ok(runtime.images.has("docker.io/library/nginx:1"));
});

Deno.test("FakeRuntime scripts attempts: exit after a delay, then run", async () => {
  const { clock, runtime } = await setup();
  runtime.script("app", { kind: "exit", exitCode: 2, afterMs: 500 }, { kind: "run" });
  const first = await runtime.createContainer(container("u1", "app"));
  await runtime.startContainer(first);
  await clock.advance(499);
  assert.equal((await runtime.listContainers("u1"))[0]?.state, "running");
  await clock.advance(1);
  const [exited] = await runtime.listContainers("u1");
  assert.equal(exited?.state, "exited");
  assert.equal(exited?.exitCode, 2);
  assert.equal(exited?.reason, "Error");
  assert.equal(exited?.finishedAt?.getTime(), 1500);
  const second = await runtime.createContainer(container("u1", "app", { attempt: 1 }));
  await runtime.startContainer(second);
  await clock.advance(60_000);
  const list = await runtime.listContainers("u1");
  assert.deepEqual(list.map((c) => [c.id, c.attempt, c.state]), [
    [first, 0, "exited"],
    [second, 1, "running"],
  ]);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeRuntime.setExit() with code 0 completes; exit() with oomKilled says OOMKilled", async () => {
  const { runtime } = await setup();
  runtime.setExit("init", 0);
  const init = await runtime.createContainer(container("u1", "init", { kind: "init" }));
  await runtime.startContainer(init);
  const app = await runtime.createContainer(container("u1", "app"));
  await runtime.startContainer(app);
  assert.equal(runtime.exit("u1/app", 137, { oomKilled: true }), true);
  assert.equal(runtime.exit("app", 1), false);
  const byName = Object.fromEntries((await runtime.listContainers("u1")).map((c) => [c.name, c]));
  assert.equal(byName.init?.reason, "Completed");
  assert.equal(byName.app?.reason, "OOMKilled");
  assert.equal(byName.app?.exitCode, 137);
});

Deno.test("FakeRuntime.startContainer() with failStart throws RunContainerError and stays created", async () => {
  const { runtime } = await setup();
  runtime.script("app", { kind: "failStart", message: "exec: no such file" });
  const id = await runtime.createContainer(container("u1", "app"));
  await assert.rejects(
    runtime.startContainer(id),
    new RuntimeError("RunContainerError", "exec: no such file"),
  );
  assert.equal((await runtime.listContainers("u1"))[0]?.state, "created");
});

Deno.test("FakeRuntime.createContainer() refuses duplicates, missing sandboxes, images and bad mounts", async () => {
  const { runtime } = await setup();
  await runtime.createContainer(container("u1", "app"));
  const reason = (r: string) => (e: unknown) => e instanceof RuntimeError && e.reason === r;
  await assert.rejects(
    runtime.createContainer(container("u1", "app")),
    reason("CreateContainerError"),
  );
  await assert.rejects(
    runtime.createContainer(container("nope", "app")),
    reason("CreateContainerError"),
  );
  await assert.rejects(
    runtime.createContainer(container("u1", "x", { image: "localhost/absent:1" })),
    reason("CreateContainerError"),
  );
  await assert.rejects(
    runtime.createContainer(container("u1", "m", {
      mounts: [{ hostPath: "/a:/b", containerPath: "/c", readOnly: false }],
    })),
    reason("CreateContainerConfigError"),
  );
  runtime.script("u1/cfg", {
    kind: "failCreate",
    reason: "CreateContainerConfigError",
    message: "no key",
  });
  await assert.rejects(
    runtime.createContainer(container("u1", "cfg")),
    new RuntimeError("CreateContainerConfigError", "no key"),
  );
  assert.equal(runtime.containerConfig("app")?.image, IMAGE);
});

Deno.test("FakeRuntime.stopContainer() waits out the grace period for a container ignoring SIGTERM", async () => {
  const { clock, runtime } = await setup();
  runtime.script("stubborn", { kind: "run", ignoreSigterm: true });
  const polite = await runtime.createContainer(container("u1", "polite"));
  const stubborn = await runtime.createContainer(container("u1", "stubborn"));
  await runtime.startContainer(polite);
  await runtime.startContainer(stubborn);
  await runtime.stopContainer(polite, 30);
  let stopped = false;
  const stopping = runtime.stopContainer(stubborn, 30).then(() => stopped = true);
  await clock.advance(29_999);
  assert.equal(stopped, false);
  await clock.advance(1);
  await stopping;
  const codes = (await runtime.listContainers("u1")).map((
    c,
  ) => [c.name, c.exitCode, c.finishedAt?.getTime()]);
  assert.deepEqual(codes, [["polite", 143, 1000], ["stubborn", 137, 31_000]]);
  await runtime.stopContainer("0".repeat(64), 1); // gone: nothing to do, like podman stop --ignore
});

Deno.test("FakeRuntime.removeSandbox() removes its containers and is idempotent", async () => {
  const { runtime } = await setup();
  const id = await runtime.createContainer(container("u1", "app"));
  await runtime.startContainer(id);
  await runtime.removeSandbox("u1");
  await runtime.removeSandbox("u1");
  assert.deepEqual(await runtime.listContainers("u1"), []);
  assert.deepEqual(await runtime.listSandboxes("edge-1"), []);
  assert.deepEqual(runtime.calls.slice(-2), ["removeSandbox u1", "removeSandbox u1"]);
});

Deno.test("FakeRuntime.probe() uses probeResults per (pod, port), else whether something runs", async () => {
  const { runtime } = await setup();
  const http = {
    kind: "http" as const,
    port: 8080,
    path: "/",
    scheme: "HTTP" as const,
    headers: [],
  };
  assert.equal((await runtime.probe("u1", http, 1000)).success, false); // nothing running
  await runtime.startContainer(await runtime.createContainer(container("u1", "app")));
  assert.deepEqual(await runtime.probe("u1", http, 1000), { success: true, message: "" });
  runtime.setProbe("u1", 8080, false);
  runtime.setProbe("*", 9090, {
    success: false,
    message: "HTTP probe failed with statuscode: 500",
  });
  assert.deepEqual(await runtime.probe("u1", http, 1000), {
    success: false,
    message: "connection refused",
  });
  assert.equal(
    (await runtime.probe("u1", { kind: "tcp", port: 9090 }, 1000)).message,
    "HTTP probe failed with statuscode: 500",
  );
  runtime.setSandboxReady("u1", false);
  assert.equal((await runtime.probe("u1", { kind: "tcp", port: 1 }, 1000)).success, false);
  assert.deepEqual(runtime.calls.filter((c) => c.startsWith("probe")), [
    "probe u1 http:8080",
    "probe u1 http:8080",
    "probe u1 http:8080",
    "probe u1 tcp:9090",
    "probe u1 tcp:1",
  ]);
});

Deno.test("FakeRuntime.exec() uses execResults per command and fails on a stopped container", async () => {
  const { runtime } = await setup();
  const id = await runtime.createContainer(container("u1", "app"));
  await runtime.startContainer(id);
  runtime.execResults.set("cat /tmp/ready", { success: false, message: "No such file" });
  runtime.execResults.set("app:true", { success: true, message: "scoped" });
  assert.deepEqual(await runtime.exec(id, ["cat", "/tmp/ready"], 1000), {
    success: false,
    message: "No such file",
  });
  assert.deepEqual(await runtime.exec(id, ["true"], 1000), { success: true, message: "scoped" });
  assert.deepEqual(await runtime.exec(id, ["ls"], 1000), { success: true, message: "" });
  await runtime.stopContainer(id, 0);
  assert.equal((await runtime.exec(id, ["ls"], 1000)).success, false);
  assert.ok(runtime.calls.includes("exec app#0 cat /tmp/ready"));
});

Deno.test("FakeRuntime.failNext() makes the next call of a method reject once", async () => {
  const { runtime } = await setup();
  runtime.failNext("createSandbox", new RuntimeError("RuntimeError", "podman is down"));
  await assert.rejects(runtime.createSandbox(sandbox("u9")), /podman is down/);
  await runtime.createSandbox(sandbox("u9"));
  assert.equal((await runtime.listSandboxes("edge-1")).length, 2);
});

Deno.test("FakeRuntime.logs() honours tailLines and timestamps and follows until aborted", async () => {
  const { clock, runtime } = await setup();
  runtime.script("app", { kind: "run", logs: ["one", "two", "three"] });
  const id = await runtime.createContainer(container("u1", "app"));
  await runtime.startContainer(id);
  const text = (s: ReadableStream<Uint8Array>) => new Response(s).text();
  assert.equal(
    await text(runtime.logs(id, { follow: false, timestamps: false })),
    "one\ntwo\nthree\n",
  );
  assert.equal(
    await text(runtime.logs(id, { follow: false, timestamps: true, tailLines: 1 })),
    "1970-01-01T00:00:01.000Z three\n",
  );
  const abort = new AbortController();
  const reader = runtime.logs(id, {
    follow: true,
    timestamps: false,
    tailLines: 0,
    signal: abort.signal,
  })
    .pipeThrough(new TextDecoderStream()).getReader();
  await clock.advance(1000);
  runtime.writeLog("app", "four");
  assert.deepEqual(await reader.read(), { value: "four\n", done: false });
  abort.abort();
  assert.equal((await reader.read()).done, true);
  await assert.rejects(text(runtime.logs("f".repeat(64), { follow: false, timestamps: false })));
});
