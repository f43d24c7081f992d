/**
 * PodmanRuntime against the real podman on this machine (runc, the busybox test image made by
 * scripts/build_test_image.sh). Every sandbox carries a random node label and is removed in
 * `finally`. Probes only reach 127.0.0.1 inside pod network namespaces.
 */

import assert from "node:assert/strict";
import { PodmanRuntime } from "./podman_runtime.ts";
import { type ContainerConfig, LABELS, RuntimeError, type SandboxConfig } from "./runtime.ts";
import { TEST_IMAGE, testContainer, testSandbox } from "./_runtime_test_fixtures.ts";

const IMAGE = TEST_IMAGE;
const dir = await Deno.makeTempDir({ prefix: "podman_runtime_test_" });
const configPath = `${dir}/containers.conf`;
await PodmanRuntime.writeContainersConf(configPath);
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const build = await new Deno.Command("bash", {
  args: [new URL("../scripts/build_test_image.sh", import.meta.url).pathname, "--conf", configPath],
  stdout: "inherit",
  stderr: "inherit",
}).output();
assert.ok(build.success, "scripts/build_test_image.sh failed");

const runtime = new PodmanRuntime({ configPath });
const node = `test-${crypto.randomUUID().slice(0, 8)}`;

function sandboxConfig(name: string, extra: Partial<SandboxConfig> = {}): SandboxConfig {
  return testSandbox(crypto.randomUUID(), { podName: name, node, hostname: name, ...extra });
}

/** A container of the test image that sleeps, plus `extra`. */
function containerConfig(
  podUid: string,
  name: string,
  extra: Partial<ContainerConfig> = {},
): ContainerConfig {
  return testContainer(podUid, name, {
    command: ["/bin/sh", "-c"],
    args: ["sleep 3600"],
    ...extra,
  });
}

/** Makes a sandbox for `name`, runs `fn`, and always removes the sandbox. */
async function withSandbox(
  name: string,
  fn: (config: SandboxConfig) => Promise<void>,
  extra: Partial<SandboxConfig> = {},
): Promise<void> {
  const config = sandboxConfig(name, extra);
  try {
    await runtime.createSandbox(config);
    await fn(config);
  } finally {
    await runtime.removeSandbox(config.podUid);
  }
}

/** Creates and starts a container; returns its id. */
async function run(config: ContainerConfig): Promise<string> {
  const id = await runtime.createContainer(config);
  await runtime.startContainer(id);
  return id;
}

/** Waits (by polling podman, not a timer assertion) until the container has exited. */
async function waitExited(podUid: string, id: string) {
  for (let i = 0; i < 200; i++) {
    const status = (await runtime.listContainers(podUid)).find((c) => c.id === id);
    if (status?.state === "exited") return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`container ${id} did not exit`);
}

/** Execs until `command` succeeds (a server in the pod may still be starting). */
async function execUntil(id: string, command: string[]) {
  let last = { success: false, message: "" };
  for (let i = 0; i < 100 && !last.success; i++) {
    last = await runtime.exec(id, command, 5000);
    if (!last.success) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return last;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

Deno.test("PodmanRuntime.version() and listImages() report podman and the test image", async () => {
  assert.match(await runtime.version(), /^podman:\/\/\d+\.\d+\.\d+/);
  const images = await runtime.listImages();
  assert.ok(images.some((i) => i.names.includes(IMAGE) && i.sizeBytes > 0));
});

Deno.test("PodmanRuntime.createSandbox() is idempotent by pod uid and gives the pod an IP", async () => {
  await withSandbox("idem", async (config) => {
    const again = await runtime.createSandbox(config);
    const listed = await runtime.listSandboxes(node);
    const mine = listed.filter((s) => s.podUid === config.podUid);
    assert.equal(mine.length, 1);
    assert.equal(mine[0]?.id, again.id);
    assert.equal(again.state, "ready");
    assert.match(again.ip, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(again.podName, "idem");
    assert.equal(again.podNamespace, "default");
  });
});

Deno.test("PodmanRuntime.removeSandbox() is idempotent, also when nothing exists", async () => {
  await runtime.removeSandbox(crypto.randomUUID());
  const config = sandboxConfig("gone");
  await runtime.createSandbox(config);
  await runtime.removeSandbox(config.podUid);
  await runtime.removeSandbox(config.podUid);
  assert.ok(!(await runtime.listSandboxes(node)).some((s) => s.podUid === config.podUid));
});

Deno.test("PodmanRuntime containers of one sandbox talk over 127.0.0.1", async () => {
  await withSandbox("talk", async ({ podUid }) => {
    await run(containerConfig(podUid, "web", {
      args: ["echo hello-from-web > /tmp/index.html && exec httpd -f -p 8080 -h /tmp"],
    }));
    const client = await run(containerConfig(podUid, "client"));
    const got = await execUntil(client, ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]);
    assert.deepEqual(got, { success: true, message: "hello-from-web" });
  });
});

Deno.test("PodmanRuntime.listContainers() reports a failing container's exit code and reason Error", async () => {
  await withSandbox("fail", async ({ podUid }) => {
    const id = await run(containerConfig(podUid, "boom", { args: ["exit 3"] }));
    const status = await waitExited(podUid, id);
    assert.equal(status.id, id);
    assert.match(status.id, /^[0-9a-f]{64}$/);
    assert.equal(status.exitCode, 3);
    assert.equal(status.reason, "Error");
    assert.equal(status.image, IMAGE);
    assert.match(status.imageId, /^sha256:[0-9a-f]{64}$/);
    assert.ok(status.startedAt && status.finishedAt && status.finishedAt >= status.startedAt);
    const ok = await run(containerConfig(podUid, "fine", { args: ["exit 0"] }));
    assert.equal((await waitExited(podUid, ok)).reason, "Completed");
  });
});

Deno.test("PodmanRuntime keeps attempt, kind and spec-hash labels across restarts, newest last", async () => {
  await withSandbox("attempts", async ({ podUid }) => {
    const first = await run(containerConfig(podUid, "app", { args: ["exit 1"], kind: "init" }));
    await waitExited(podUid, first);
    const second = await run(containerConfig(podUid, "app", { attempt: 1, specHash: "h2" }));
    const list = await runtime.listContainers(podUid);
    assert.deepEqual(
      list.map((c) => [c.id, c.name, c.attempt, c.kind, c.specHash, c.state]),
      [[first, "app", 0, "init", "h1", "exited"], [second, "app", 1, "app", "h2", "running"]],
    );
    await runtime.stopContainer(second, 0);
    await runtime.removeContainer(first);
    await runtime.removeContainer(first);
    assert.deepEqual((await runtime.listContainers(podUid)).map((c) => c.state), ["exited"]);
  });
});

Deno.test("PodmanRuntime.ensureImage() with Never on a missing image fails ErrImageNeverPull", async () => {
  await runtime.ensureImage(IMAGE, "Never");
  await runtime.ensureImage(IMAGE, "IfNotPresent");
  await runtime.ensureImage(IMAGE, "Always"); // localhost/: made here, never pulled
  await assert.rejects(
    runtime.ensureImage("localhost/edge-missing:1", "Never"),
    new RuntimeError(
      "ErrImageNeverPull",
      'Container image "localhost/edge-missing:1" is not present with pull policy of Never',
    ),
  );
  await assert.rejects(
    runtime.ensureImage("Bad Image!", "IfNotPresent"),
    (e) => e instanceof RuntimeError && e.reason === "InvalidImageName",
  );
});

Deno.test("PodmanRuntime.probe() runs http and tcp probes inside the pod's network namespace", async () => {
  await withSandbox("probe", async ({ podUid }) => {
    const web = await run(containerConfig(podUid, "web", {
      args: ["echo ok > /tmp/healthz && exec httpd -f -p 8080 -h /tmp"],
    }));
    assert.ok(
      (await execUntil(web, ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/healthz"]))
        .success,
    );
    const http = (path: string) => ({
      kind: "http" as const,
      port: 8080,
      path,
      scheme: "HTTP" as const,
      headers: [{ name: "X-Probe", value: "yes" }],
    });
    assert.deepEqual(await runtime.probe(podUid, http("/healthz"), 2000), {
      success: true,
      message: "",
    });
    assert.deepEqual(await runtime.probe(podUid, http("/missing"), 2000), {
      success: false,
      message: "HTTP probe failed with statuscode: 404",
    });
    // by default the probe goes to the pod's IP, as kubelet's: local inside its namespace
    const podIP = (await runtime.observePod(node, podUid)).sandbox?.ip ?? "";
    assert.match(podIP, /^\d+\.\d+\.\d+\.\d+$/);
    const refused = await runtime.probe(podUid, { ...http("/"), port: 8081 }, 2000);
    assert.equal(refused.success, false);
    assert.ok(refused.message.startsWith(`Get "http://${podIP}:8081/": `), refused.message);
    assert.match(refused.message, /refused/);
    assert.deepEqual(await runtime.probe(podUid, { kind: "tcp", port: 8080 }, 2000), {
      success: true,
      message: "",
    });
    const closed = await runtime.probe(podUid, { kind: "tcp", port: 8081 }, 2000);
    assert.equal(closed.success, false);
    assert.ok(closed.message.startsWith(`dial tcp ${podIP}:8081: `), closed.message);
    // an explicit host: a server on 127.0.0.2 alone answers there, not on the pod's IP
    await run(containerConfig(podUid, "local", {
      args: ["echo ok > /tmp/healthz && exec httpd -f -p 127.0.0.2:9090 -h /tmp"],
    }));
    const local = { ...http("/healthz"), port: 9090, host: "127.0.0.2" };
    assert.ok(
      (await execUntil(web, ["wget", "-q", "-O", "/dev/null", "http://127.0.0.2:9090/healthz"]))
        .success,
    );
    assert.deepEqual(await runtime.probe(podUid, local, 2000), { success: true, message: "" });
    assert.deepEqual(
      await runtime.probe(podUid, { kind: "tcp", port: 9090, host: "127.0.0.2" }, 2000),
      {
        success: true,
        message: "",
      },
    );
    assert.equal((await runtime.probe(podUid, { ...local, host: undefined }, 2000)).success, false);
    assert.deepEqual(await runtime.probe(podUid, { ...local, host: "a b" }, 2000), {
      success: false,
      message: 'Get "http://invalid-host:9090/healthz": invalid host "a b"',
    });
  });
});

Deno.test("PodmanRuntime.probe() fails when the pod has no sandbox", async () => {
  const outcome = await runtime.probe(crypto.randomUUID(), { kind: "tcp", port: 80 }, 1000);
  assert.equal(outcome.success, false);
  assert.match(outcome.message, /^no sandbox for pod /);
});

Deno.test("PodmanRuntime.exec() reports exit codes and output", async () => {
  await withSandbox("exec", async ({ podUid }) => {
    const id = await run(containerConfig(podUid, "app"));
    assert.deepEqual(await runtime.exec(id, ["sh", "-c", "echo out; echo err >&2"], 5000), {
      success: true,
      message: "out\nerr",
    });
    assert.deepEqual(await runtime.exec(id, ["sh", "-c", "exit 4"], 5000), {
      success: false,
      message: "exit code 4",
    });
  });
});

Deno.test("PodmanRuntime.logs() honours tailLines and timestamps and merges stderr", async () => {
  await withSandbox("logs", async ({ podUid }) => {
    const id = await run(containerConfig(podUid, "app", {
      args: ["echo one; echo two >&2; echo three"],
    }));
    await waitExited(podUid, id);
    const all = await readAll(runtime.logs(id, { follow: false, timestamps: false }));
    assert.deepEqual(all.split("\n").filter((l) => l).sort(), ["one", "three", "two"]);
    const tail = await readAll(runtime.logs(id, { follow: false, timestamps: true, tailLines: 1 }));
    assert.match(tail, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) \w+\n$/);
    await assert.rejects(
      readAll(runtime.logs("0".repeat(64), { follow: false, timestamps: false })),
      (e) => e instanceof RuntimeError,
    );
  });
});

Deno.test("PodmanRuntime.logs() follows until the signal aborts", async () => {
  await withSandbox("follow", async ({ podUid }) => {
    const id = await run(containerConfig(podUid, "app", { args: ["echo ready; exec sleep 3600"] }));
    const abort = new AbortController();
    const reader = runtime.logs(id, { follow: true, timestamps: false, signal: abort.signal })
      .pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ready\n")) {
      const { value, done } = await reader.read();
      assert.ok(!done, "log ended before the first line");
      text += value;
    }
    abort.abort();
    while (!(await reader.read()).done) { /* drain */ }
  });
});

Deno.test("PodmanRuntime.createContainer() sets cpu and memory limits podman reports", async () => {
  await withSandbox("limits", async ({ podUid }) => {
    const id = await runtime.createContainer(containerConfig(podUid, "app", {
      cpuLimitMillis: 250,
      memoryLimitBytes: 64 * 1024 * 1024,
    }));
    const out = await new Deno.Command("podman", {
      args: ["container", "inspect", "--format", "json", id],
      env: { CONTAINERS_CONF: configPath },
    }).output();
    const [inspect] = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(inspect.HostConfig.NanoCpus, 250_000_000);
    assert.equal(inspect.HostConfig.Memory, 64 * 1024 * 1024);
    assert.equal(inspect.Config.Labels[LABELS.node], node);
    assert.equal(inspect.Config.Labels[LABELS.podName], "limits");
  });
});

Deno.test("PodmanRuntime passes hostile env values verbatim, never through a shell", async () => {
  await withSandbox("env", async ({ podUid }) => {
    const values = ["$(id)", "a; touch /tmp/pwned", "line1\nline2", "`hostname` 'q' \"d\" \\ =x"];
    const env = values.map((value, i) => ({ name: `V${i}`, value }));
    const id = await run(containerConfig(podUid, "app", { env }));
    for (const [i, value] of values.entries()) {
      const got = await runtime.exec(id, ["sh", "-c", `printf %s "$V${i}"`], 5000);
      assert.deepEqual(got, { success: true, message: value.trim() });
    }
    const pwned = await runtime.exec(id, ["test", "-e", "/tmp/pwned"], 5000);
    assert.equal(pwned.success, false);
  });
});

Deno.test("PodmanRuntime.createContainer() refuses a relative or ':'-holding hostPath", async () => {
  await withSandbox("mounts", async ({ podUid }) => {
    for (const hostPath of ["relative/dir", "/tmp/a:/etc", "/tmp/a,ro"]) {
      await assert.rejects(
        runtime.createContainer(containerConfig(podUid, "app", {
          mounts: [{ hostPath, containerPath: "/data", readOnly: false }],
        })),
        (e) => e instanceof RuntimeError && e.reason === "CreateContainerConfigError",
      );
    }
    assert.deepEqual(await runtime.listContainers(podUid), []);
    const id = await run(containerConfig(podUid, "ok", {
      mounts: [{ hostPath: dir, containerPath: "/data", readOnly: true }],
      args: ["cat /data/containers.conf >/dev/null && sleep 3600"],
    }));
    const write = await runtime.exec(id, ["touch", "/data/x"], 5000);
    assert.equal(write.success, false);
    assert.match(write.message, /Read-only file system/);
  });
});

Deno.test("PodmanRuntime: a new instance adopts the same sandboxes and containers", async () => {
  await withSandbox("adopt", async ({ podUid }) => {
    const id = await run(containerConfig(podUid, "app"));
    const before = (await runtime.listSandboxes(node)).find((s) => s.podUid === podUid);
    const fresh = new PodmanRuntime({ configPath });
    const after = (await fresh.listSandboxes(node)).find((s) => s.podUid === podUid);
    assert.deepEqual(after, before);
    assert.deepEqual(await fresh.listContainers(podUid), await runtime.listContainers(podUid));
    assert.equal((await fresh.listContainers(podUid))[0]?.id, id);
  });
});

Deno.test("PodmanRuntime.listNodeState() sees what listSandboxes() and listContainers() see", async () => {
  const elsewhere = `${node}-other`;
  await withSandbox("state-a", async (a) => {
    await withSandbox("state-b", async (b) => {
      await withSandbox("state-c", async (c) => {
        const running = await run(containerConfig(a.podUid, "app"));
        const exited = await run(
          containerConfig(a.podUid, "init", { kind: "init", args: ["exit 0"] }),
        );
        await waitExited(a.podUid, exited);
        await run(containerConfig(c.podUid, "app"));
        const state = await runtime.listNodeState(node);
        const mine = [a.podUid, b.podUid];
        assert.deepEqual(
          state.sandboxes.filter((s) => mine.includes(s.podUid)),
          (await runtime.listSandboxes(node)).filter((s) => mine.includes(s.podUid)),
        );
        assert.ok(!state.sandboxes.some((s) => s.podUid === c.podUid));
        assert.ok(!state.containers.some((s) => s.podUid === c.podUid));
        assert.deepEqual(
          state.containers.filter((s) => s.podUid === a.podUid),
          await runtime.listContainers(a.podUid),
        );
        assert.deepEqual(
          state.containers.filter((s) => s.podUid === a.podUid).map((s) => [s.id, s.state]),
          [[running, "running"], [exited, "exited"]],
        );
        assert.deepEqual(state.containers.filter((s) => s.podUid === b.podUid), []);
      }, { node: elsewhere });
    });
  });
});

Deno.test("PodmanRuntime.createContainer() in a sandbox another instance removed fails, then recovers", async () => {
  await withSandbox("gone-behind", async (config) => {
    await runtime.listNodeState(node);
    await new PodmanRuntime({ configPath }).removeSandbox(config.podUid);
    await assert.rejects(
      runtime.createContainer(containerConfig(config.podUid, "app")),
      (e) => e instanceof RuntimeError && e.reason === "CreateContainerError",
    );
    await runtime.createSandbox(config);
    const id = await run(containerConfig(config.podUid, "app"));
    assert.equal((await runtime.listContainers(config.podUid))[0]?.id, id);
  });
});

Deno.test("PodmanRuntime.createContainer() without a sandbox fails CreateContainerError", async () => {
  await assert.rejects(
    runtime.createContainer(containerConfig(crypto.randomUUID(), "app")),
    (e) => e instanceof RuntimeError && e.reason === "CreateContainerError",
  );
});

Deno.test("PodmanRuntime.startContainer() of a missing executable fails RunContainerError", async () => {
  await withSandbox("nostart", async ({ podUid }) => {
    const id = await runtime.createContainer(containerConfig(podUid, "app", {
      command: ["/nonexistent"],
      args: [],
    }));
    await assert.rejects(
      runtime.startContainer(id),
      (e) =>
        e instanceof RuntimeError && e.reason === "RunContainerError" &&
        /nonexistent/.test(e.message),
    );
  });
});

Deno.test("PodmanRuntime.createSandbox() starts the sandbox now only when asked to", async () => {
  await withSandbox("later", async ({ podUid }) => {
    const mine = (await runtime.listSandboxes(node)).find((s) => s.podUid === podUid);
    assert.equal(mine?.state, "notready");
    await runtime.runContainer(containerConfig(podUid, "app"));
    const started = (await runtime.listSandboxes(node)).find((s) => s.podUid === podUid);
    assert.equal(started?.state, "ready");
    assert.match(started?.ip ?? "", /^\d+\.\d+\.\d+\.\d+$/);
  });
  await withSandbox("now", async ({ podUid }) => {
    const mine = (await runtime.listSandboxes(node)).find((s) => s.podUid === podUid);
    assert.equal(mine?.state, "ready");
    assert.match(mine?.ip ?? "", /^\d+\.\d+\.\d+\.\d+$/);
  }, { startNow: true });
});

Deno.test("PodmanRuntime.runContainer() creates and starts in one call", async () => {
  await withSandbox("run", async ({ podUid }) => {
    const id = await runtime.runContainer(containerConfig(podUid, "app"));
    assert.match(id, /^[0-9a-f]{64}$/);
    const [status] = await runtime.listContainers(podUid);
    assert.equal(status?.id, id);
    assert.equal(status?.state, "running");
  });
});

Deno.test("PodmanRuntime.runContainer() tells a start failure from a create failure", async () => {
  await withSandbox("runfail", async ({ podUid }) => {
    await assert.rejects(
      runtime.runContainer(containerConfig(podUid, "app", { command: ["/nonexistent"], args: [] })),
      (e) =>
        e instanceof RuntimeError && e.reason === "RunContainerError" &&
        /nonexistent/.test(e.message),
    );
    // made but not started: the worker finds it and retries or restarts it
    const left = await runtime.listContainers(podUid);
    assert.equal(left.length, 1);
    assert.notEqual(left[0]?.state, "running");
    await assert.rejects(
      runtime.runContainer(containerConfig(podUid, "app")), // same name and attempt: taken
      (e) => e instanceof RuntimeError && e.reason === "CreateContainerError",
    );
  });
  await assert.rejects(
    runtime.runContainer(containerConfig(crypto.randomUUID(), "app")),
    (e) => e instanceof RuntimeError && e.reason === "CreateContainerError",
  );
});

Deno.test("PodmanRuntime.probe() of a host-network pod checks 127.0.0.1 from the agent", async () => {
  const port = 20000 + Math.floor(Math.random() * 10000);
  await withSandbox("hostnet", async ({ podUid }) => {
    const sandbox = (await runtime.listSandboxes(node)).find((s) => s.podUid === podUid);
    assert.equal(sandbox?.ip, "");
    const web = await run(containerConfig(podUid, "web", {
      args: [`echo ok > /tmp/healthz && exec httpd -f -p 127.0.0.1:${port} -h /tmp`],
    }));
    const url = `http://127.0.0.1:${port}/healthz`;
    assert.ok((await execUntil(web, ["wget", "-q", "-O", "/dev/null", url])).success);
    const http = { kind: "http" as const, port, scheme: "HTTP" as const, headers: [] };
    assert.deepEqual(await runtime.probe(podUid, { ...http, path: "/healthz" }, 2000), {
      success: true,
      message: "",
    });
    assert.deepEqual(await runtime.probe(podUid, { ...http, path: "/nope" }, 2000), {
      success: false,
      message: "HTTP probe failed with statuscode: 404",
    });
    assert.equal((await runtime.probe(podUid, { kind: "tcp", port }, 2000)).success, true);
  }, { hostNetwork: true });
});

Deno.test("PodmanRuntime.observePod() reads a pod it made with one podman call", async () => {
  // a podman that notes its first two arguments, so the test can count calls
  const calls = `${dir}/calls.txt`;
  const wrapper = `${dir}/podman-noting`;
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\necho "$1 $2" >> '${calls}'\nexec podman "$@"\n`,
    { mode: 0o755 },
  );
  const noting = new PodmanRuntime({ configPath, podmanPath: wrapper });
  const config = sandboxConfig("observe");
  const callsSince = async (from: number) =>
    (await Deno.readTextFile(calls)).trim().split("\n").slice(from);
  try {
    await noting.createSandbox(config);
    const a = await noting.runContainer(containerConfig(config.podUid, "a"));
    const b = await noting.runContainer(containerConfig(config.podUid, "b"));
    const before = (await callsSince(0)).length;
    const seen = await noting.observePod(node, config.podUid);
    assert.deepEqual(await callsSince(before), ["container inspect"]);
    assert.equal(seen.sandbox?.state, "ready");
    assert.match(seen.sandbox?.ip ?? "", /^\d+\.\d+\.\d+\.\d+$/);
    assert.deepEqual(seen.containers.map((c) => [c.id, c.state]), [[a, "running"], [b, "running"]]);
    // the same as a listing shows (which a fresh runtime has to make), but for the sandbox's
    // creation time: the infra container's, not the pod's
    const listed = await runtime.observePod(node, config.podUid);
    assert.ok(seen.sandbox && listed.sandbox);
    assert.ok(Math.abs(+seen.sandbox.createdAt - +listed.sandbox.createdAt) < 60_000);
    assert.deepEqual({ ...listed, sandbox: { ...listed.sandbox, createdAt: 0 } }, {
      ...seen,
      sandbox: { ...seen.sandbox, createdAt: 0 },
    });
    assert.deepEqual(await runtime.observePod("another-node", config.podUid), { containers: [] });

    await noting.removeContainer(b);
    assert.deepEqual((await noting.observePod(node, config.podUid)).containers.map((c) => c.id), [
      a,
    ]);
    // a container made behind its back is seen after the next listing
    const c = await runtime.runContainer(containerConfig(config.podUid, "c"));
    await noting.listNodeState(node);
    const after = await noting.observePod(node, config.podUid);
    assert.deepEqual(after.containers.map((s) => s.id).sort(), [a, c].sort());
    // a pod removed behind its back reads as absent
    await runtime.removeSandbox(config.podUid);
    assert.deepEqual(await noting.observePod(node, config.podUid), { containers: [] });
  } finally {
    await runtime.removeSandbox(config.podUid);
  }
});

Deno.test("PodmanRuntime runs containers with their securityContext", async () => {
  await withSandbox("security", async ({ podUid }) => {
    const report = "grep ^Seccomp: /proc/self/status; id -u; id -g; id -G; " +
      "touch /probe 2>/dev/null && echo rw || echo ro";
    const run = async (name: string, security: ContainerConfig["security"]) => {
      const id = await runtime.runContainer(
        containerConfig(podUid, name, { args: [report], ...(security ? { security } : {}) }),
      );
      await waitExited(podUid, id);
      return (await readAll(runtime.logs(id, { follow: false, timestamps: false }))).trim().split(
        "\n",
      ).map((l) => l.trim());
    };
    // podman's default profile is filter mode (2); Unconfined is none (0)
    const root = await run("default", { seccomp: { type: "RuntimeDefault" } });
    assert.deepEqual(root.map((l) => l.replace(/\s+/g, " ")), ["Seccomp: 2", "0", "0", "0", "rw"]);
    const confined = await run("user", {
      seccomp: { type: "Unconfined" },
      runAsUser: 1000,
      runAsGroup: 3000,
      supplementalGroups: [4000],
      readOnlyRootFilesystem: true,
    });
    assert.equal(confined[0]?.replace(/\s+/g, " "), "Seccomp: 0");
    assert.deepEqual(confined.slice(1), ["1000", "3000", "3000 4000", "ro"]);
    // runAsGroup alone keeps the image's user (root here) and sets the group
    const grouped = await run("group", { seccomp: { type: "Unconfined" }, runAsGroup: 3000 });
    assert.deepEqual(grouped.slice(1, 3), ["0", "3000"]);
  });
});

Deno.test("PodmanRuntime refuses runAsNonRoot when the image runs as root", async () => {
  await withSandbox("nonroot", async ({ podUid }) => {
    await assert.rejects(
      runtime.runContainer(containerConfig(podUid, "app", {
        security: { seccomp: { type: "Unconfined" }, runAsNonRoot: true },
      })),
      (e) =>
        e instanceof RuntimeError && e.reason === "CreateContainerConfigError" &&
        /^container has runAsNonRoot and image will run as root \(pod: "nonroot_default\(.+\)", container: app\)$/
          .test(e.message),
    );
    assert.deepEqual(await runtime.listContainers(podUid), []);
    const id = await runtime.runContainer(containerConfig(podUid, "app", {
      security: { seccomp: { type: "Unconfined" }, runAsNonRoot: true, runAsUser: 1000 },
    }));
    assert.equal((await runtime.listContainers(podUid)).find((c) => c.id === id)?.state, "running");
  });
});

Deno.test("PodmanRuntime gives sandboxes on a subnet fixed addresses and reads a fresh start without podman", async () => {
  const third = 100 + Math.floor(Math.random() * 100);
  const subnet = `10.251.${third}.0/24`;
  const network = `edge-ipam-${crypto.randomUUID().slice(0, 8)}`;
  await new Deno.Command("podman", {
    args: ["network", "create", "--subnet", subnet, network],
    env: { CONTAINERS_CONF: configPath },
    stdout: "null",
  }).output();
  const calls = `${dir}/ipam-calls.txt`;
  const wrapper = `${dir}/podman-ipam-noting`;
  await Deno.writeTextFile(
    wrapper,
    `#!/bin/sh\necho "$1 $2" >> '${calls}'\nexec podman "$@"\n`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(calls, "");
  const noting = new PodmanRuntime({ configPath, podmanPath: wrapper });
  const callsSince = async (from: number) =>
    (await Deno.readTextFile(calls)).trim().split("\n").filter((l) => l).slice(from);
  const first = sandboxConfig("ipam-a", { network, subnet });
  const second = sandboxConfig("ipam-b", { network, subnet });
  const third3 = sandboxConfig("ipam-c", { network, subnet });
  const foreign = `ipam-foreign-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await noting.ensureImage(IMAGE, "Never"); // as the worker does before a start
    const made = await noting.createSandbox(first);
    assert.equal(made.ip, `10.251.${third}.2`, "known before the sandbox runs");
    const a = await noting.runContainer(containerConfig(first.podUid, "a"));
    const b = await noting.runContainer(containerConfig(first.podUid, "b"));
    const before = (await callsSince(0)).length;
    const fresh = await noting.observePod(node, first.podUid);
    assert.deepEqual(await callsSince(before), [], "a fresh start is read without podman");
    assert.deepEqual(fresh.containers.map((c) => [c.id, c.state]), [[a, "running"], [
      b,
      "running",
    ]]);
    assert.equal(fresh.sandbox?.ip, made.ip);
    assert.equal(fresh.sandbox?.state, "ready");
    // the next look asks podman, and podman agrees
    const inspected = await noting.observePod(node, first.podUid);
    assert.deepEqual(await callsSince(before), ["container inspect"]);
    assert.equal(inspected.sandbox?.ip, made.ip);
    assert.deepEqual(
      inspected.containers.map((c) => [c.id, c.state, c.imageId, c.image]),
      fresh.containers.map((c) => [c.id, c.state, c.imageId, c.image]),
    );
    // a runtime started afresh (an agent restart) learns the addresses in use from the node
    const restarted = new PodmanRuntime({ configPath });
    await restarted.ensureImage(IMAGE, "Never");
    assert.equal((await restarted.createSandbox(second)).ip, `10.251.${third}.3`);
    // an address taken behind its back: the sandbox is dropped, and the next one gets another
    const next = `10.251.${third}.4`;
    const raw = await new Deno.Command("podman", {
      args: ["pod", "create", "--name", foreign, "--network", network, "--ip", next],
      env: { CONTAINERS_CONF: configPath },
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(raw.success, new TextDecoder().decode(raw.stderr));
    await new Deno.Command("podman", {
      args: ["pod", "start", foreign],
      env: { CONTAINERS_CONF: configPath },
      stdout: "null",
    }).output();
    assert.equal((await restarted.createSandbox(third3)).ip, next);
    await assert.rejects(
      restarted.runContainer(containerConfig(third3.podUid, "a")),
      (e) => e instanceof RuntimeError && /already allocated/.test(e.message),
    );
    const again = await restarted.createSandbox(third3);
    assert.equal(again.ip, `10.251.${third}.5`);
    await restarted.runContainer(containerConfig(third3.podUid, "a"));
    const seen = await restarted.observePod(node, third3.podUid);
    assert.equal(seen.sandbox?.ip, again.ip);
    assert.equal(seen.containers[0]?.state, "running");
  } finally {
    for (const c of [first, second, third3]) await runtime.removeSandbox(c.podUid);
    await new Deno.Command("podman", {
      args: ["pod", "rm", "-f", "-t", "0", "--ignore", foreign],
      env: { CONTAINERS_CONF: configPath },
      stdout: "null",
    }).output();
    await new Deno.Command("podman", {
      args: ["network", "rm", "-f", network],
      env: { CONTAINERS_CONF: configPath },
      stdout: "null",
    }).output();
  }
});
