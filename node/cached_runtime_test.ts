import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { testPod } from "./_worker_test_pod.ts";
import { CachedRuntime } from "./cached_runtime.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { PodWorker } from "./pod_worker.ts";
import type { ContainerConfig, NodeState, PodState, SandboxConfig } from "./runtime.ts";
import { RuntimeError } from "./runtime.ts";
import { TEST_IMAGE, testContainer, testSandbox } from "./_runtime_test_fixtures.ts";

const IMAGE = TEST_IMAGE;
const NODE = "edge-1";

/** A FakeRuntime that counts node listings and can hold them until `release()`. */
class CountingRuntime extends FakeRuntime {
  listings = 0;
  #gate: Promise<void> | undefined;
  #open = () => {};

  /** Listings started from now on wait (with the state of their start) until `release()`. */
  hold(): void {
    this.#gate = new Promise((resolve) => this.#open = resolve);
  }

  release(): void {
    this.#gate = undefined;
    this.#open();
  }

  override async listNodeState(node: string): Promise<NodeState> {
    this.listings++;
    const state = super.listNodeState(node);
    await this.#gate;
    return await state;
  }

  /** pod uids read on their own, in order */
  observed: string[] = [];

  override async observePod(node: string, podUid: string): Promise<PodState> {
    this.observed.push(podUid);
    const state = super.observePod(node, podUid);
    await this.#gate;
    return await state;
  }
}

function sandbox(podUid: string, node = NODE): SandboxConfig {
  return testSandbox(podUid, { node });
}

function container(podUid: string, name: string, attempt = 0): ContainerConfig {
  return testContainer(podUid, name, { attempt });
}

/** `pods` sandboxes on edge-1, each with a running container "app", behind a CachedRuntime. */
async function setup(pods = 5) {
  const clock = new FakeClock(1_000);
  const inner = new CountingRuntime(clock);
  inner.images.add(IMAGE);
  const uids = Array.from({ length: pods }, (_, i) => `u${i}`);
  for (const uid of uids) {
    await inner.createSandbox(sandbox(uid));
    await inner.startContainer(await inner.createContainer(container(uid, "app")));
  }
  const cached = new CachedRuntime({ runtime: inner, node: NODE, clock, ttlMs: 1_000 });
  return { clock, inner, cached, uids };
}

Deno.test("CachedRuntime: every worker's reads within one ttl cost one node listing", async () => {
  const { inner, cached, uids } = await setup(5);
  for (const uid of uids) {
    assert.deepEqual(await cached.listSandboxes(NODE), await inner.listSandboxes(NODE));
    assert.deepEqual(await cached.listContainers(uid), await inner.listContainers(uid));
  }
  assert.equal(inner.listings, 1);
  assert.deepEqual(await cached.listContainers("not-here"), []);
  assert.equal(inner.listings, 1);
});

Deno.test("CachedRuntime: concurrent reads share one refresh", async () => {
  const { inner, cached, uids } = await setup(5);
  inner.hold();
  const reads = Promise.all(uids.map((uid) => cached.listContainers(uid)));
  const sandboxes = cached.listSandboxes(NODE);
  inner.release();
  assert.deepEqual((await reads).map((list) => list.map((c) => c.podUid)), uids.map((u) => [u]));
  assert.equal((await sandboxes).length, 5);
  assert.equal(inner.listings, 1);
});

Deno.test("CachedRuntime: reads after the ttl refresh, and see exits nobody asked for", async () => {
  const { clock, inner, cached } = await setup(1);
  assert.equal((await cached.listContainers("u0"))[0]?.state, "running");
  inner.exit("u0/app", 1);
  await clock.advance(999);
  assert.equal((await cached.listContainers("u0"))[0]?.state, "running");
  assert.equal(inner.listings, 1);
  await clock.advance(1);
  assert.equal((await cached.listContainers("u0"))[0]?.state, "exited");
  assert.equal(inner.listings, 2);
});

Deno.test("CachedRuntime: a changed pod is read on its own, also when the change failed", async () => {
  const { inner, cached } = await setup(2);
  await cached.listContainers("u0");
  const id = await cached.createContainer(container("u0", "side"));
  assert.deepEqual((await cached.listContainers("u0")).map((c) => c.name), ["app", "side"]);
  await cached.startContainer(id);
  assert.equal((await cached.listContainers("u0")).find((c) => c.id === id)?.state, "running");
  await cached.stopContainer(id, 0);
  assert.equal((await cached.listContainers("u0")).find((c) => c.id === id)?.state, "exited");
  await cached.removeContainer(id);
  assert.equal((await cached.listContainers("u0")).length, 1);
  assert.deepEqual(inner.observed, ["u0", "u0", "u0", "u0"]);
  // the other pod, and the changed pod once read, come from the snapshot
  assert.equal((await cached.listContainers("u1")).length, 1);
  assert.equal((await cached.listContainers("u0")).length, 1);
  assert.equal(inner.listings, 1);

  await cached.createSandbox(sandbox("u2"));
  assert.equal((await cached.observePod(NODE, "u2")).sandbox?.podUid, "u2");
  await cached.removeSandbox("u1");
  assert.deepEqual(await cached.observePod(NODE, "u1"), { containers: [] });
  assert.deepEqual(inner.observed.slice(4), ["u2", "u1"]);
  assert.equal(inner.listings, 1);

  const u2 = await cached.createContainer(container("u2", "app"));
  inner.failNext("startContainer", new RuntimeError("RunContainerError", "boom"));
  await assert.rejects(cached.startContainer(u2), /boom/);
  assert.equal((await cached.listContainers("u2"))[0]?.state, "created");
  assert.deepEqual(inner.observed.slice(6), ["u2"]);
});

Deno.test("CachedRuntime: a pod read on its own answers from the snapshot for one ttl", async () => {
  const { clock, inner, cached } = await setup(1);
  await cached.listContainers("u0");
  await clock.advance(5_000);
  await cached.runContainer(container("u0", "side"));
  assert.equal((await cached.listContainers("u0")).length, 2);
  await clock.advance(999);
  assert.equal((await cached.observePod(NODE, "u0")).containers.length, 2);
  assert.deepEqual([inner.listings, inner.observed.length], [1, 1]);
  await clock.advance(1);
  await cached.observePod(NODE, "u0");
  assert.deepEqual([inner.listings, inner.observed.length], [2, 1]);
});

Deno.test("CachedRuntime: a whole-node read after a change lists the node anew", async () => {
  const { inner, cached } = await setup(2);
  await cached.listSandboxes(NODE);
  await cached.removeSandbox("u1");
  assert.deepEqual((await cached.listSandboxes(NODE)).map((s) => s.podUid), ["u0"]);
  assert.equal(inner.listings, 2);
  assert.equal((await cached.listNodeState(NODE)).containers.length, 1);
  assert.equal(inner.listings, 2);
});

Deno.test("CachedRuntime: a change it cannot place drops the snapshot", async () => {
  const { inner, cached } = await setup(1);
  await cached.listContainers("u0");
  inner.failNext("startContainer", new RuntimeError("RunContainerError", "boom"));
  await assert.rejects(cached.startContainer("nope"), /boom/);
  await cached.listContainers("u0");
  assert.equal(inner.listings, 2);
  assert.deepEqual(inner.observed, []);
});

Deno.test("CachedRuntime: a new pod's first look costs no runtime call, however old the snapshot", async () => {
  const { clock, inner, cached } = await setup(1);
  await cached.listContainers("u0");
  await cached.removeSandbox("u0");
  await clock.advance(60_000);
  assert.deepEqual(await cached.observePod(NODE, "new"), { containers: [] });
  assert.deepEqual(await cached.listContainers("new"), []);
  assert.equal(inner.listings, 1);
  assert.deepEqual(inner.observed, []);
  // a pod the snapshot shows is read again once the snapshot is older than the ttl
  await inner.createSandbox(sandbox("made-behind-our-back"));
  assert.equal((await cached.observePod(NODE, "u0")).sandbox, undefined);
  assert.deepEqual(inner.observed, ["u0"]);
  assert.equal(inner.listings, 1);
});

Deno.test("CachedRuntime: a refresh under way during a change is kept, but not for the changed pod", async () => {
  const { inner, cached } = await setup(2);
  inner.hold();
  const before = cached.listContainers("u0");
  await cached.createContainer(container("u0", "side"));
  inner.release();
  assert.deepEqual((await before).map((c) => c.name), ["app"]);
  assert.deepEqual((await cached.listContainers("u0")).map((c) => c.name), ["app", "side"]);
  assert.deepEqual((await cached.listContainers("u0")).map((c) => c.name), ["app", "side"]);
  assert.equal((await cached.listContainers("u1")).length, 1);
  assert.equal(inner.listings, 1);
  assert.deepEqual(inner.observed, ["u0"]);
});

Deno.test("CachedRuntime: a pod read on its own before a refresh began is not put into it", async () => {
  const { clock, inner, cached } = await setup(1);
  await cached.listContainers("u0");
  const id = await cached.createContainer(container("u0", "side"));
  inner.hold();
  const alone = cached.listContainers("u0"); // reads u0 on its own, held
  await clock.advance(1_000);
  await cached.startContainer(id); // u0 changes again while the read is held
  inner.release();
  assert.equal((await alone).find((c) => c.id === id)?.state, "created");
  assert.equal((await cached.listContainers("u0")).find((c) => c.id === id)?.state, "running");
  assert.deepEqual(inner.observed, ["u0", "u0"]);
});

Deno.test("CachedRuntime: images are not cached", async () => {
  const { inner, cached } = await setup(1);
  await cached.listContainers("u0");
  assert.equal(await cached.ensureImage(IMAGE, "IfNotPresent"), false);
  await cached.listContainers("u0");
  assert.equal(inner.listings, 1);
});

Deno.test("CachedRuntime: a failed refresh rejects its callers and is not kept", async () => {
  const { inner, cached } = await setup(1);
  inner.failNext("listNodeState", new RuntimeError("RuntimeError", "podman is down"));
  const reads = [cached.listContainers("u0"), cached.listSandboxes(NODE)];
  for (const read of reads) await assert.rejects(read, /podman is down/);
  assert.equal((await cached.listContainers("u0")).length, 1);
  assert.equal(inner.listings, 2);
});

Deno.test("CachedRuntime: another node's sandboxes and callers' copies bypass the snapshot", async () => {
  const { inner, cached } = await setup(1);
  await inner.createSandbox(sandbox("other", "edge-2"));
  assert.deepEqual((await cached.listSandboxes("edge-2")).map((s) => s.podUid), ["other"]);
  assert.equal(inner.listings, 0);
  const [first] = await cached.listContainers("u0");
  assert.ok(first);
  first.state = "unknown";
  assert.equal((await cached.listContainers("u0"))[0]?.state, "running");
  assert.equal(inner.listings, 1);
});

Deno.test("CachedRuntime: five idle pod workers relist the node once per period", async () => {
  const clock = new FakeClock(Date.parse("2024-01-01T00:00:00Z"));
  const inner = new CountingRuntime(clock);
  inner.images.add("busybox:1.36");
  const runtime = new CachedRuntime({ runtime: inner, node: NODE, clock });
  const workers = Array.from({ length: 5 }, (_, i) => {
    const pod = testPod({ containers: [{ name: "app", image: "busybox:1.36" }] }, `p${i}`);
    pod.metadata.uid = `uid-${i}`;
    const worker = new PodWorker({
      runtime,
      clock,
      nodeName: NODE,
      hostIP: "192.168.1.10",
      inputs: () => ({ configMaps: {}, secrets: {}, volumeDirs: {} }),
    });
    return { worker, pod };
  });
  try {
    const started = await Promise.all(workers.map(({ worker, pod }) => worker.sync(pod)));
    assert.deepEqual(started.map((s) => s.phase), Array(5).fill("Running"));
    const listings = inner.listings;
    for (let second = 0; second < 10; second++) await clock.advance(1_000);
    assert.equal(inner.listings - listings, 10);

    inner.exit("uid-3/app", 1);
    await clock.advance(1_000);
    await clock.advance(1_000);
    assert.ok(inner.calls.includes("startContainer app#1"), inner.calls.join("\n"));
  } finally {
    for (const { worker } of workers) worker.close();
  }
});
