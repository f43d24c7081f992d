import assert from "node:assert/strict";
import { testPod } from "./_worker_test_pod.ts";
import {
  containerConfigFor,
  type ContainerInputs,
  containerSubPaths,
  expandVars,
  specHash,
} from "./container_config.ts";
import { RuntimeError } from "./runtime.ts";

const inputs: ContainerInputs = {
  configMaps: { settings: { LEVEL: "debug", MODE: "fast" } },
  secrets: { creds: { PASSWORD: btoa("s3cret") } },
  volumeDirs: { data: "/var/lib/edge/uid-1/data", cfg: "/var/lib/edge/uid-1/cfg" },
  podIP: "10.88.0.5",
  hostIP: "192.168.1.10",
};

function first(pod: ReturnType<typeof testPod>) {
  const spec = pod.spec as { containers: Parameters<typeof specHash>[0][] };
  const c = spec.containers[0];
  assert.ok(c);
  return c;
}

Deno.test("expandVars() expands $(VAR), keeps unknown references and unescapes $$", () => {
  const vars = new Map([["A", "x"], ["B", "y"]]);
  assert.equal(expandVars("$(A)-$(B)", vars), "x-y");
  assert.equal(expandVars("$(C)", vars), "$(C)");
  assert.equal(expandVars("$$(A)", vars), "$(A)");
  assert.equal(expandVars("$(A", vars), "$(A");
  assert.equal(expandVars("cost $5 $", vars), "cost $5 $");
});

Deno.test("containerConfigFor() resolves literal, fieldRef, resourceFieldRef, configMap and secret env", () => {
  const pod = testPod({
    serviceAccountName: "robot",
    containers: [{
      name: "web",
      image: "busybox:1.36",
      command: ["sh", "-c", "echo $(POD_NAME)"],
      resources: { limits: { cpu: "500m", memory: "64Mi" } },
      envFrom: [{ prefix: "CFG_", configMapRef: { name: "settings" } }],
      env: [
        { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
        { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
        { name: "SA", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
        { name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "HOST", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
        { name: "CPU", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1m" } } },
        {
          name: "MEM",
          valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } },
        },
        { name: "LEVEL", valueFrom: { configMapKeyRef: { name: "settings", key: "LEVEL" } } },
        { name: "PW", valueFrom: { secretKeyRef: { name: "creds", key: "PASSWORD" } } },
        {
          name: "OPT",
          valueFrom: { configMapKeyRef: { name: "absent", key: "x", optional: true } },
        },
        { name: "URL", value: "http://$(IP):80/$(LEVEL)" },
      ],
    }],
  });
  const config = containerConfigFor(pod, first(pod), "app", 3, inputs);
  assert.deepEqual(Object.fromEntries(config.env.map((e) => [e.name, e.value])), {
    CFG_LEVEL: "debug",
    CFG_MODE: "fast",
    POD_NAME: "p",
    NS: "default",
    UID: "uid-1",
    APP: "web",
    NODE: "edge-1",
    SA: "robot",
    IP: "10.88.0.5",
    HOST: "192.168.1.10",
    CPU: "500",
    MEM: "64",
    LEVEL: "debug",
    PW: "s3cret",
    URL: "http://10.88.0.5:80/debug",
  });
  assert.deepEqual(config.command, ["sh", "-c", "echo p"]);
  assert.equal(config.cpuLimitMillis, 500);
  assert.equal(config.memoryLimitBytes, 67108864);
  assert.equal(config.attempt, 3);
  assert.equal(config.specHash, specHash(first(pod)));
  assert.match(config.specHash, /^[0-9a-f]{16}$/);
});

Deno.test("containerConfigFor() fails with kubelet's messages for missing ConfigMaps, Secrets and keys", () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [
      { env: [{ name: "A", valueFrom: { configMapKeyRef: { name: "nope", key: "k" } } }] },
      'configmap "nope" not found',
    ],
    [
      { env: [{ name: "A", valueFrom: { configMapKeyRef: { name: "settings", key: "k" } } }] },
      "couldn't find key k in ConfigMap default/settings",
    ],
    [
      { env: [{ name: "A", valueFrom: { secretKeyRef: { name: "creds", key: "k" } } }] },
      "couldn't find key k in Secret default/creds",
    ],
    [{ envFrom: [{ secretRef: { name: "gone" } }] }, 'secret "gone" not found'],
    [
      { volumeMounts: [{ name: "logs", mountPath: "/logs" }] },
      'cannot find volume "logs" to mount into container "web"',
    ],
  ];
  for (const [extra, message] of cases) {
    const pod = testPod({ containers: [{ name: "web", image: "busybox:1.36", ...extra }] });
    assert.throws(
      () => containerConfigFor(pod, first(pod), "app", 0, inputs),
      (e) =>
        e instanceof RuntimeError && e.reason === "CreateContainerConfigError" &&
        e.message === message,
    );
  }
});

Deno.test("containerConfigFor() mounts volumes with subPath and configMap volumes read-only", () => {
  const pod = testPod({
    volumes: [{ name: "data", emptyDir: {} }, { name: "cfg", configMap: { name: "settings" } }],
    containers: [{
      name: "web",
      image: "busybox:1.36",
      volumeMounts: [
        { name: "data", mountPath: "/data", subPath: "web" },
        { name: "cfg", mountPath: "/etc/app" },
      ],
    }],
  });
  assert.deepEqual((containerConfigFor(pod, first(pod), "app", 0, inputs)).mounts, [
    { hostPath: "/var/lib/edge/uid-1/data/web", containerPath: "/data", readOnly: false },
    { hostPath: "/var/lib/edge/uid-1/cfg", containerPath: "/etc/app", readOnly: true },
  ]);
});

Deno.test("specHash() is stable under key order and changes with the spec", () => {
  const a = testPod({ containers: [{ name: "web", image: "busybox:1.36", args: ["a"] }] });
  const b = testPod({ containers: [{ args: ["a"], image: "busybox:1.36", name: "web" }] });
  const c = testPod({ containers: [{ name: "web", image: "busybox:1.36", args: ["b"] }] });
  assert.equal(specHash(first(a)), specHash(first(b)));
  assert.notEqual(specHash(first(a)), specHash(first(c)));
  // FNV-1a 64 of the canonical JSON: the labels of running containers depend on it, so it
  // must not change between releases
  assert.equal(specHash(first(a)), "fd30f7b2e04677c6");
});

Deno.test("containerConfigFor() adds service variables after the container's own, which win", () => {
  const pod = testPod({
    containers: [{
      name: "web",
      image: "busybox:1.36",
      command: ["sh", "-c", "wget $(DB_SERVICE_HOST):$(DB_SERVICE_PORT)"],
      envFrom: [{ configMapRef: { name: "settings" } }],
      env: [
        { name: "DB_SERVICE_PORT", value: "6432" },
        { name: "DB_URL", value: "postgres://$(DB_SERVICE_HOST):$(DB_SERVICE_PORT)" },
        { name: "MODE", value: "$(MODE)-$(KUBERNETES_SERVICE_HOST)" },
      ],
    }],
  });
  const serviceEnv = new Map([
    ["KUBERNETES_SERVICE_HOST", "10.96.0.1"],
    ["DB_SERVICE_HOST", "10.96.0.30"],
    ["DB_SERVICE_PORT", "5432"],
    ["LEVEL", "from-a-service"],
  ]);
  const config = containerConfigFor(pod, first(pod), "app", 0, { ...inputs, serviceEnv });
  assert.deepEqual(config.env, [
    { name: "LEVEL", value: "debug" },
    { name: "MODE", value: "fast-10.96.0.1" },
    { name: "DB_SERVICE_PORT", value: "6432" },
    { name: "DB_URL", value: "postgres://10.96.0.30:6432" },
    { name: "KUBERNETES_SERVICE_HOST", value: "10.96.0.1" },
    { name: "DB_SERVICE_HOST", value: "10.96.0.30" },
  ]);
  assert.deepEqual(config.command, ["sh", "-c", "wget 10.96.0.30:6432"]);
});

Deno.test("containerConfigFor() mounts the pod's own resolv.conf unless the container has one", () => {
  const pod = testPod({ containers: [{ name: "web", image: "busybox:1.36" }] });
  const resolvConf = "/var/lib/edge/pods/uid-1/resolv.conf";
  assert.deepEqual(
    containerConfigFor(pod, first(pod), "app", 0, { ...inputs, resolvConf }).mounts,
    [
      { hostPath: resolvConf, containerPath: "/etc/resolv.conf", readOnly: true },
    ],
  );
  const own = testPod({
    volumes: [{ name: "data", emptyDir: {} }],
    containers: [{
      name: "web",
      image: "busybox:1.36",
      volumeMounts: [{ name: "data", mountPath: "/etc/resolv.conf", subPath: "r" }],
    }],
  });
  const mounts = containerConfigFor(own, first(own), "app", 0, { ...inputs, resolvConf }).mounts;
  assert.deepEqual(mounts.map((m) => m.hostPath), ["/var/lib/edge/uid-1/data/r"]);
});

Deno.test("containerConfigFor() mounts every mount of a readOnly claim read-only", () => {
  const pod = testPod({
    volumes: [
      { name: "data", persistentVolumeClaim: { claimName: "shared", readOnly: true } },
      { name: "cfg", persistentVolumeClaim: { claimName: "settings" } },
    ],
    containers: [{
      name: "web",
      image: "busybox:1.36",
      volumeMounts: [
        { name: "data", mountPath: "/data" },
        { name: "data", mountPath: "/sub", subPath: "web", readOnly: false },
        { name: "cfg", mountPath: "/etc/app" },
        { name: "cfg", mountPath: "/etc/ro", readOnly: true },
      ],
    }],
  });
  assert.deepEqual(containerConfigFor(pod, first(pod), "app", 0, inputs).mounts, [
    { hostPath: "/var/lib/edge/uid-1/data", containerPath: "/data", readOnly: true },
    { hostPath: "/var/lib/edge/uid-1/data/web", containerPath: "/sub", readOnly: true },
    { hostPath: "/var/lib/edge/uid-1/cfg", containerPath: "/etc/app", readOnly: false },
    { hostPath: "/var/lib/edge/uid-1/cfg", containerPath: "/etc/ro", readOnly: true },
  ]);
});

Deno.test("containerSubPaths() lists the subPaths to make, subPathExpr expanded", () => {
  const pod = testPod({
    volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
    containers: [{
      name: "web",
      image: "busybox:1.36",
      env: [{ name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
      volumeMounts: [
        { name: "data", mountPath: "/data" },
        { name: "data", mountPath: "/sub", subPath: "nested/dir" },
        { name: "data", mountPath: "/logs", subPathExpr: "logs/$(POD)" },
      ],
    }],
  });
  const config = containerConfigFor(pod, first(pod), "app", 0, inputs);
  assert.deepEqual(containerSubPaths(pod, first(pod), config.env, inputs.volumeDirs), [
    { volume: "data", volumeDir: "/var/lib/edge/uid-1/data", subPath: "nested/dir" },
    { volume: "data", volumeDir: "/var/lib/edge/uid-1/data", subPath: "logs/p" },
  ]);
  assert.deepEqual(config.mounts.map((m) => m.hostPath), [
    "/var/lib/edge/uid-1/data",
    "/var/lib/edge/uid-1/data/nested/dir",
    "/var/lib/edge/uid-1/data/logs/p",
  ]);
  const escaping = testPod({
    volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
    containers: [{
      name: "web",
      image: "busybox:1.36",
      volumeMounts: [{ name: "data", mountPath: "/x", subPath: "a/../../etc" }],
    }],
  });
  assert.throws(
    () => containerSubPaths(escaping, first(escaping), [], inputs.volumeDirs),
    (e: unknown) => e instanceof RuntimeError && e.reason === "CreateContainerConfigError",
  );
});

Deno.test("containerConfigFor() puts a hostPID or hostIPC pod's containers in the host's namespaces", () => {
  const plain = testPod({ containers: [{ name: "web", image: "busybox:1.36" }] });
  const config = containerConfigFor(plain, first(plain), "app", 0, inputs);
  assert.equal(config.hostPID, undefined);
  assert.equal(config.hostIPC, undefined);
  const host = testPod({
    hostPID: true,
    hostIPC: true,
    containers: [{ name: "web", image: "busybox:1.36" }],
  });
  const hosted = containerConfigFor(host, first(host), "app", 0, inputs);
  assert.equal(hosted.hostPID, true);
  assert.equal(hosted.hostIPC, true);
});
