import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { ApiError } from "../status.ts";
import { validateObject } from "../validation.ts";
import { defaultPullPolicy } from "./_pod_spec.ts";
import { type Pod, podQosClass, pods, podSummary } from "./pod.ts";

const now = new Date("2024-05-01T12:00:00Z");

function create(body: unknown): Pod {
  return validateObject(pods, body, { fieldValidation: "Strict" }).object as unknown as Pod;
}

function causes(body: unknown): [string, string][] {
  try {
    validateObject(pods, body, { fieldValidation: "Strict" });
  } catch (e) {
    assert.ok(e instanceof ApiError && e.code === 422, String(e));
    return (e.details?.causes ?? []).map((c) => [c.field, c.message]);
  }
  assert.fail("expected Invalid");
}

const base = (spec: Record<string, unknown>) => ({ metadata: { name: "web" }, spec });

Deno.test("pods schema applies Kubernetes' defaults", () => {
  const pod = create(base({
    containers: [{
      name: "c",
      image: "nginx:1.25",
      ports: [{ containerPort: 80 }],
      livenessProbe: { httpGet: { port: 80 } },
      env: [{ name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
    }],
    volumes: [{ name: "cfg", configMap: { name: "app" } }],
  }));
  const c = pod.spec.containers[0]!;
  assert.equal(pod.spec.restartPolicy, "Always");
  assert.equal(pod.spec.dnsPolicy, "ClusterFirst");
  assert.equal(pod.spec.terminationGracePeriodSeconds, 30);
  assert.equal(pod.spec.schedulerName, "default-scheduler");
  assert.equal(c.terminationMessagePath, "/dev/termination-log");
  assert.equal(c.terminationMessagePolicy, "File");
  assert.equal(c.imagePullPolicy, "IfNotPresent");
  assert.equal(c.ports?.[0]?.protocol, "TCP");
  assert.deepEqual(c.livenessProbe, {
    httpGet: { port: 80, path: "/", scheme: "HTTP" },
    timeoutSeconds: 1,
    periodSeconds: 10,
    successThreshold: 1,
    failureThreshold: 3,
  });
  assert.equal(c.env?.[0]?.valueFrom?.fieldRef?.apiVersion, "v1");
  assert.equal(pod.spec.volumes?.[0]?.configMap?.defaultMode, 420);
  assert.equal(pod.status?.phase, "Pending");
  assert.equal(pod.status?.qosClass, "BestEffort");
});

Deno.test("pods accept a comprehensive real-world manifest in Strict mode", () => {
  create({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "full",
      namespace: "default",
      labels: { app: "web", "app.kubernetes.io/name": "web" },
      annotations: { "example.com/note": "x" },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "rs",
        uid: "u",
        controller: true,
        blockOwnerDeletion: true,
      }],
      finalizers: ["example.com/cleanup"],
      creationTimestamp: null,
    },
    spec: {
      initContainers: [
        { name: "init", image: "busybox", command: ["sh", "-c", "true"] },
        {
          name: "sidecar",
          image: "envoy",
          restartPolicy: "Always",
          readinessProbe: { tcpSocket: { port: 9901 } },
        },
      ],
      containers: [{
        name: "app",
        image: "registry.local:5000/app@sha256:abc",
        args: ["--port=8080"],
        workingDir: "/app",
        ports: [{ name: "http", containerPort: 8080, hostPort: 80, protocol: "TCP" }],
        env: [
          { name: "A", value: "1" },
          {
            name: "CPU",
            valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1m" } },
          },
          { name: "C", valueFrom: { configMapKeyRef: { name: "cm", key: "k", optional: true } } },
          { name: "S", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
        ],
        envFrom: [{ configMapRef: { name: "cm" } }, { prefix: "S_", secretRef: { name: "s" } }],
        resources: {
          limits: { cpu: "500m", memory: "128Mi" },
          requests: { cpu: 0.25, memory: "64Mi" },
        },
        volumeMounts: [{ name: "data", mountPath: "/data" }, {
          name: "tok",
          mountPath: "/var/run/tok",
          readOnly: true,
        }],
        livenessProbe: { exec: { command: ["true"] }, initialDelaySeconds: 5 },
        readinessProbe: {
          httpGet: { path: "/healthz", port: "http", httpHeaders: [{ name: "X", value: "y" }] },
        },
        startupProbe: { grpc: { port: 9090 }, failureThreshold: 30, periodSeconds: 2 },
        lifecycle: {
          preStop: { exec: { command: ["sleep", "5"] } },
          postStart: { sleep: { seconds: 1 } },
        },
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 1000,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ["ALL"] },
          readOnlyRootFilesystem: true,
          seccompProfile: { type: "RuntimeDefault" },
        },
        stdin: false,
        tty: false,
        imagePullPolicy: "IfNotPresent",
        terminationMessagePolicy: "FallbackToLogsOnError",
      }],
      volumes: [
        { name: "data", emptyDir: { sizeLimit: "1Gi" } },
        { name: "host", hostPath: { path: "/var/log", type: "Directory" } },
        { name: "sec", secret: { secretName: "s", items: [{ key: "a", path: "a" }] } },
        { name: "pvc", persistentVolumeClaim: { claimName: "data" } },
        {
          name: "tok",
          projected: {
            sources: [{ serviceAccountToken: { path: "token", audience: "api" } }, {
              downwardAPI: {
                items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }],
              },
            }],
          },
        },
        {
          name: "dapi",
          downwardAPI: {
            items: [{
              path: "cpu",
              resourceFieldRef: { containerName: "app", resource: "limits.cpu" },
            }],
          },
        },
      ],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 10,
      activeDeadlineSeconds: 3600,
      dnsPolicy: "None",
      dnsConfig: {
        nameservers: ["1.1.1.1"],
        searches: ["svc.cluster.local"],
        options: [{ name: "ndots", value: "2" }],
      },
      nodeSelector: { "kubernetes.io/os": "linux" },
      serviceAccountName: "app",
      automountServiceAccountToken: false,
      hostNetwork: false,
      hostPID: false,
      hostname: "web",
      subdomain: "svc",
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{
              matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }],
            }],
          },
          preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 10,
            preference: { matchExpressions: [{ key: "ssd", operator: "Exists" }] },
          }],
        },
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 100,
            podAffinityTerm: {
              labelSelector: { matchLabels: { app: "web" } },
              topologyKey: "kubernetes.io/hostname",
            },
          }],
        },
      },
      tolerations: [{ key: "edge", operator: "Exists", effect: "NoSchedule" }, {
        key: "k",
        operator: "Equal",
        value: "v",
        effect: "NoExecute",
        tolerationSeconds: 30,
      }],
      topologySpreadConstraints: [{
        maxSkew: 1,
        topologyKey: "zone",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: { app: "web" } },
      }],
      priority: 0,
      priorityClassName: "high",
      schedulerName: "default-scheduler",
      securityContext: {
        fsGroup: 2000,
        runAsGroup: 3000,
        sysctls: [{ name: "net.core.somaxconn", value: "1024" }],
      },
      imagePullSecrets: [{ name: "regcred" }],
      readinessGates: [{ conditionType: "example.com/ready" }],
      runtimeClassName: "runc",
      enableServiceLinks: false,
      os: { name: "linux" },
      overhead: { cpu: "10m" },
      hostAliases: [{ ip: "127.0.0.1", hostnames: ["foo.local"] }],
    },
    status: {},
  });
});

Deno.test("defaultPullPolicy() is Always for :latest or no tag, else IfNotPresent", () => {
  assert.equal(defaultPullPolicy("nginx"), "Always");
  assert.equal(defaultPullPolicy("nginx:latest"), "Always");
  assert.equal(defaultPullPolicy("registry:5000/nginx"), "Always");
  assert.equal(defaultPullPolicy("registry:5000/nginx:1.2"), "IfNotPresent");
  assert.equal(defaultPullPolicy("nginx@sha256:abc"), "IfNotPresent");
  assert.equal(defaultPullPolicy("nginx:latest@sha256:abc"), "Always");
});

Deno.test("podQosClass() computes Guaranteed, Burstable and BestEffort", () => {
  const guaranteed = create(
    base({
      containers: [{ name: "c", image: "i", resources: { limits: { cpu: "1", memory: "1Gi" } } }],
    }),
  );
  assert.equal(guaranteed.status?.qosClass, "Guaranteed");
  assert.deepEqual(guaranteed.spec.containers[0]?.resources.requests, { cpu: "1", memory: "1Gi" });
  const burstable = create(
    base({ containers: [{ name: "c", image: "i", resources: { requests: { cpu: "100m" } } }] }),
  );
  assert.equal(podQosClass(burstable.spec), "Burstable");
  const mixed = create(
    base({
      containers: [{
        name: "c",
        image: "i",
        resources: {
          limits: { cpu: "1", memory: "1Gi" },
          requests: { cpu: "1000m", memory: "512Mi" },
        },
      }],
    }),
  );
  assert.equal(mixed.status?.qosClass, "Burstable");
});

Deno.test("podQosClass() sums requests and limits exactly", () => {
  const container = (name: string, request: string, limit: string) => ({
    name,
    image: "i",
    resources: {
      requests: { cpu: request, memory: "1Mi" },
      limits: { cpu: limit, memory: "1Mi" },
    },
  });
  // 0.1 + 0.2 is 0.30000000000000004 in floating point, and 0.25 + 0.05 is 0.3
  const pod = create(
    base({ containers: [container("a", "0.1", "250m"), container("b", "0.2", "50m")] }),
  );
  assert.equal(pod.status?.qosClass, "Guaranteed");
});

Deno.test("pods validation reports container, port, volume and env problems", () => {
  assert.deepEqual(causes(base({ containers: [] })), [["spec.containers", "Required value"]]);
  const got = causes(base({
    containers: [
      {
        name: "Web",
        image: "",
        ports: [{ containerPort: 0, name: "http" }],
        volumeMounts: [{ name: "missing", mountPath: "/m" }],
        env: [{ name: "A=B" }],
      },
      { name: "dup", image: "i", ports: [{ containerPort: 70000, name: "http" }] },
      { name: "dup", image: " i" },
    ],
    volumes: [{ name: "v" }, { name: "v", emptyDir: {}, hostPath: { path: "/" } }],
  }));
  const fields = got.map(([f]) => f);
  for (
    const f of [
      "spec.volumes[0]",
      "spec.volumes[1].name",
      "spec.volumes[1].emptyDir",
      "spec.containers[0].name",
      "spec.containers[0].image",
      "spec.containers[0].ports[0].containerPort",
      "spec.containers[0].env[0].name",
      "spec.containers[0].volumeMounts[0].name",
      "spec.containers[1].ports[0].name",
      "spec.containers[1].ports[0].containerPort",
      "spec.containers[2].name",
      "spec.containers[2].image",
    ]
  ) assert.ok(fields.includes(f), `${f} in ${JSON.stringify(got)}`);
  assert.ok(
    got.some(([f, m]) => f === "spec.containers[2].name" && m === 'Duplicate value: "dup"'),
  );
  assert.ok(
    got.some(([f, m]) =>
      f === "spec.containers[0].ports[0].containerPort" &&
      m === "Invalid value: 0: must be between 1 and 65535, inclusive"
    ),
  );
  assert.ok(
    got.some(([f, m]) =>
      f === "spec.containers[0].volumeMounts[0].name" && m === 'Not found: "missing"'
    ),
  );
});

function podWith(
  status: Record<string, unknown>,
  spec: Record<string, unknown> = {},
  meta: Record<string, unknown> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", creationTimestamp: "2024-05-01T11:00:00Z", ...meta },
    spec: { containers: [{ name: "a" }, { name: "b" }], ...spec },
    status,
  };
}

Deno.test("podSummary() reproduces kubectl's pod status cases", () => {
  const running = { running: { startedAt: "2024-05-01T11:00:00Z" } };
  const cases: [KubeObject, string, string, string][] = [
    [podWith({ phase: "Pending" }), "0/2", "Pending", "0"],
    [
      podWith({
        phase: "Running",
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: [
          { name: "a", ready: true, restartCount: 0, state: running },
          {
            name: "b",
            ready: true,
            restartCount: 2,
            state: running,
            lastState: { terminated: { exitCode: 1, finishedAt: "2024-05-01T11:55:00Z" } },
          },
        ],
      }),
      "2/2",
      "Running",
      "2 (5m ago)",
    ],
    [
      podWith({
        phase: "Running",
        containerStatuses: [
          {
            name: "a",
            ready: false,
            restartCount: 5,
            state: { waiting: { reason: "CrashLoopBackOff" } },
          },
          { name: "b", ready: true, restartCount: 0, state: running },
        ],
      }),
      "1/2",
      "CrashLoopBackOff",
      "5",
    ],
    [
      podWith({
        phase: "Pending",
        containerStatuses: [{
          name: "a",
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: "ImagePullBackOff" } },
        }],
      }),
      "0/2",
      "ImagePullBackOff",
      "0",
    ],
    [
      podWith({
        phase: "Succeeded",
        containerStatuses: [{
          name: "a",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: "Completed" } },
        }],
      }),
      "0/2",
      "Completed",
      "0",
    ],
    [
      podWith({
        phase: "Failed",
        containerStatuses: [{
          name: "a",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 137 } },
        }],
      }),
      "0/2",
      "ExitCode:137",
      "0",
    ],
    [
      podWith({
        phase: "Failed",
        containerStatuses: [{
          name: "a",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 0, signal: 9 } },
        }],
      }),
      "0/2",
      "Signal:9",
      "0",
    ],
    [
      podWith({
        phase: "Pending",
        initContainerStatuses: [{
          name: "i",
          ready: false,
          restartCount: 0,
          state: { running: {} },
        }],
      }, { initContainers: [{ name: "i" }, { name: "j" }] }),
      "0/2",
      "Init:0/2",
      "0",
    ],
    [
      podWith({
        phase: "Pending",
        initContainerStatuses: [{
          name: "i",
          ready: false,
          restartCount: 3,
          state: { waiting: { reason: "CrashLoopBackOff" } },
        }],
      }, { initContainers: [{ name: "i" }] }),
      "0/2",
      "Init:CrashLoopBackOff",
      "3",
    ],
    [
      podWith({
        phase: "Pending",
        initContainerStatuses: [{
          name: "i",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: 2 } },
        }],
      }, { initContainers: [{ name: "i" }] }),
      "0/2",
      "Init:ExitCode:2",
      "0",
    ],
    [
      podWith({
        phase: "Running",
        conditions: [{ type: "Initialized", status: "True" }],
        initContainerStatuses: [{
          name: "s",
          ready: true,
          started: true,
          restartCount: 0,
          state: running,
        }],
        containerStatuses: [{ name: "a", ready: true, restartCount: 0, state: running }],
      }, { initContainers: [{ name: "s", restartPolicy: "Always" }] }),
      "2/3",
      "Running",
      "0",
    ],
    [
      podWith({ phase: "Running" }, {}, { deletionTimestamp: "2024-05-01T11:59:00Z" }),
      "0/2",
      "Terminating",
      "0",
    ],
    [
      podWith({ phase: "Running", reason: "NodeLost" }, {}, {
        deletionTimestamp: "2024-05-01T11:59:00Z",
      }),
      "0/2",
      "Unknown",
      "0",
    ],
    [
      podWith({
        phase: "Pending",
        conditions: [{ type: "PodScheduled", status: "False", reason: "SchedulingGated" }],
      }),
      "0/2",
      "SchedulingGated",
      "0",
    ],
  ];
  for (const [pod, ready, status, restarts] of cases) {
    assert.deepEqual(podSummary(pod, now), { ready, status, restarts }, JSON.stringify(pod.status));
  }
});

Deno.test("pods columns fill IP, Node, Nominated Node and Readiness Gates", () => {
  const pod = podWith(
    {
      phase: "Running",
      podIPs: [{ ip: "10.1.0.4" }],
      conditions: [{ type: "example.com/ok", status: "True" }],
    },
    {
      nodeName: "edge-1",
      readinessGates: [{ conditionType: "example.com/ok" }, { conditionType: "other" }],
    },
  );
  const cells = Object.fromEntries(pods.columns.map((c) => [c.name, c.cell(pod, now)]));
  assert.deepEqual(cells, {
    Name: "p",
    Ready: "0/2",
    Status: "Running",
    Restarts: "0",
    Age: "60m",
    IP: "10.1.0.4",
    Node: "edge-1",
    "Nominated Node": "<none>",
    "Readiness Gates": "1/2",
  });
  assert.deepEqual(pods.columns.filter((c) => c.priority === 1).map((c) => c.name), [
    "IP",
    "Node",
    "Nominated Node",
    "Readiness Gates",
  ]);
});

Deno.test("pods.validate() refuses relative and backstepping hostPath volumes", () => {
  for (const [path, why] of [["relative/dir", "absolute"], ["/srv/../etc", "'..'"]] as const) {
    const body = {
      metadata: { name: "p", namespace: "default" },
      spec: {
        containers: [{ name: "c", image: "busybox:1" }],
        volumes: [{ name: "v", hostPath: { path } }],
      },
    };
    assert.throws(
      () => validateObject(pods, body, { fieldValidation: "Strict" }),
      (e: unknown) =>
        e instanceof ApiError && e.code === 422 &&
        e.details?.causes?.some((c) =>
            c.field === "spec.volumes[0].hostPath.path" && c.message.includes(why)
          ) === true,
    );
  }
});

Deno.test("pods.validate() checks seccomp and AppArmor profiles and ids in securityContext", () => {
  const spec = (podSc: unknown, containerSc: unknown) =>
    base({
      securityContext: podSc,
      containers: [{ name: "c", image: "busybox:1", securityContext: containerSc }],
    });
  assert.deepEqual(
    causes(spec(
      { seccompProfile: { type: "Localhost" }, runAsUser: -1 },
      {
        seccompProfile: { type: "RuntimeDefault", localhostProfile: "a.json" },
        appArmorProfile: { type: "Localhost", localhostProfile: "" },
        runAsGroup: -5,
      },
    )),
    [
      [
        "spec.containers[0].securityContext.seccompProfile.localhostProfile",
        "Forbidden: can only be set when the profile type is Localhost",
      ],
      [
        "spec.containers[0].securityContext.appArmorProfile.localhostProfile",
        "Required value: must be set when the profile type is Localhost",
      ],
      [
        "spec.containers[0].securityContext.runAsGroup",
        "Invalid value: -5: must be between 0 and 2147483647, inclusive",
      ],
      [
        "spec.securityContext.seccompProfile.localhostProfile",
        "Required value: must be set when the profile type is Localhost",
      ],
      [
        "spec.securityContext.runAsUser",
        "Invalid value: -1: must be between 0 and 2147483647, inclusive",
      ],
    ],
  );
  assert.deepEqual(
    causes(spec({ seccompProfile: { type: "Localhost", localhostProfile: "../x.json" } }, {})),
    [[
      "spec.securityContext.seccompProfile.localhostProfile",
      `Invalid value: "../x.json": must be a relative path without '..'`,
    ]],
  );
  const ok = create(spec(
    { seccompProfile: { type: "Localhost", localhostProfile: "profiles/a.json" }, runAsUser: 0 },
    { seccompProfile: { type: "Unconfined" }, runAsNonRoot: true, runAsUser: 1000 },
  ));
  assert.equal(ok.spec.containers[0]?.securityContext?.runAsUser, 1000);
});

Deno.test("pods.validate() checks sysctls and the namespaces a pod shares with the host", () => {
  const pod = (extra: Record<string, unknown>, sysctls?: unknown) =>
    base({
      ...extra,
      ...(sysctls ? { securityContext: { sysctls } } : {}),
      containers: [{ name: "c", image: "busybox:1" }],
    });
  const regex = "^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$";
  assert.deepEqual(
    causes(pod({}, [
      { name: "net.ipv4.ip_local_port_range", value: "1024 2048" },
      { name: "Net.Core", value: "1" },
      { name: "net.ipv4.ip_local_port_range", value: "1" },
      { name: "", value: "1" },
      { name: "x.".repeat(127), value: "1" },
    ])),
    [
      [
        "spec.securityContext.sysctls[1].name",
        `Invalid value: "Net.Core": must have at most 253 characters and match regex ${regex}`,
      ],
      [
        "spec.securityContext.sysctls[2].name",
        `Duplicate value: "net.ipv4.ip_local_port_range"`,
      ],
      ["spec.securityContext.sysctls[3].name", "Required value"],
      [
        "spec.securityContext.sysctls[4].name",
        `Invalid value: "${
          "x.".repeat(127)
        }": must have at most 253 characters and match regex ${regex}`,
      ],
    ],
  );
  assert.deepEqual(
    causes(pod({ hostNetwork: true, hostIPC: true }, [
      { name: "net/ipv4/tcp_syncookies", value: "1" },
      { name: "kernel.shm_rmid_forced", value: "1" },
      { name: "kernel.pid_max", value: "1" },
    ])),
    [
      [
        "spec.securityContext.sysctls[0].name",
        `Invalid value: "net.ipv4.tcp_syncookies": may not be specified when 'hostNetwork' is true`,
      ],
      [
        "spec.securityContext.sysctls[1].name",
        `Invalid value: "kernel.shm_rmid_forced": may not be specified when 'hostIPC' is true`,
      ],
    ],
  );
  assert.deepEqual(causes(pod({ hostPID: true, shareProcessNamespace: true })), [[
    "spec.securityContext.shareProcessNamespace",
    "Invalid value: true: ShareProcessNamespace and HostPID cannot both be enabled",
  ]]);
  // a node-level sysctl is the agent's to refuse (SysctlForbidden), as kubelet does
  const ok = create(pod({ hostPID: true }, [
    { name: "kernel.pid_max", value: "4096" },
    { name: "net/ipv4/conf/eth0.100/rp_filter", value: "1" },
  ]));
  assert.equal(ok.spec.securityContext?.sysctls?.length, 2);
});

Deno.test("pods update: images, tolerations added, deadline lowered and gates removed are allowed", () => {
  const old = create(base({
    containers: [{ name: "c", image: "a:1" }],
    initContainers: [{ name: "i", image: "a:1" }],
    tolerations: [{ key: "k", operator: "Exists", effect: "NoExecute", tolerationSeconds: 60 }],
    activeDeadlineSeconds: 100,
    schedulingGates: [{ name: "wait" }],
    nodeSelector: { zone: "a" },
  })) as unknown as KubeObject;
  const next = create(base({
    containers: [{ name: "c", image: "a:2" }],
    initContainers: [{ name: "i", image: "a:2" }],
    tolerations: [
      { key: "k", operator: "Exists", effect: "NoExecute", tolerationSeconds: 10 },
      { key: "other", operator: "Exists" },
    ],
    activeDeadlineSeconds: 50,
    nodeSelector: { zone: "a", disk: "ssd" },
  }));
  const updated = validateObject(pods, next, { fieldValidation: "Strict", old }).object;
  assert.equal((updated.spec as Pod["spec"]).containers[0]!.image, "a:2");
});

Deno.test("pods update: any other spec change is Forbidden with Kubernetes' message and the paths", () => {
  const old = create(base({
    containers: [{ name: "c", image: "a:1", env: [{ name: "A", value: "1" }] }],
  })) as unknown as KubeObject;
  const changed = (spec: Record<string, unknown>) => {
    try {
      validateObject(pods, create(base(spec)), { fieldValidation: "Strict", old });
    } catch (e) {
      assert.ok(e instanceof ApiError && e.code === 422, String(e));
      return {
        message: e.message,
        causes: (e.details?.causes ?? []).map((c) => [c.field, c.message]),
      };
    }
    assert.fail("expected Invalid");
  };
  const env = changed({
    containers: [{ name: "c", image: "a:2", env: [{ name: "A", value: "2" }] }],
    restartPolicy: "Never",
  });
  assert.match(
    env.message,
    /^Pod "web" is invalid: spec: Forbidden: pod updates may not change fields other than `spec\.containers\[\*\]\.image`,`spec\.initContainers\[\*\]\.image`,`spec\.activeDeadlineSeconds`,`spec\.tolerations` \(only additions to existing tolerations\),`spec\.terminationGracePeriodSeconds` \(allow it to be set to 1 if it was previously negative\)/,
  );
  assert.match(env.message, /changed: spec\.containers\[0\]\.env\[0\]\.value, spec\.restartPolicy/);
  assert.deepEqual(
    changed({ containers: [{ name: "c", image: "a:1" }, { name: "d", image: "a:1" }] }).causes,
    [["spec.containers", "Forbidden: pod updates may not add or remove containers"]],
  );
  assert.match(
    changed({ containers: [{ name: "c", image: "a:1" }], nodeName: "n2" }).message,
    /spec\.nodeName/,
  );
});

Deno.test("pods update: deadline raised or removed, tolerations changed, gates added are refused", () => {
  const old = create(base({
    containers: [{ name: "c", image: "a:1" }],
    tolerations: [{ key: "k", operator: "Equal", value: "v" }],
    activeDeadlineSeconds: 100,
    nodeSelector: { zone: "a" },
  })) as unknown as KubeObject;
  const causesOf = (spec: Record<string, unknown>) => {
    try {
      validateObject(pods, create(base({ containers: [{ name: "c", image: "a:1" }], ...spec })), {
        fieldValidation: "Strict",
        old,
      });
    } catch (e) {
      assert.ok(e instanceof ApiError && e.code === 422, String(e));
      return (e.details?.causes ?? []).map((c) => [c.field, c.message.split("\n")[0]]);
    }
    assert.fail("expected Invalid");
  };
  const same = {
    tolerations: [{ key: "k", operator: "Equal", value: "v" }],
    nodeSelector: { zone: "a" },
  };
  assert.deepEqual(causesOf({ ...same, activeDeadlineSeconds: 200 }), [
    [
      "spec.activeDeadlineSeconds",
      "Invalid value: 200: must be less than or equal to previous value",
    ],
  ]);
  assert.deepEqual(causesOf({ ...same }), [
    [
      "spec.activeDeadlineSeconds",
      'Invalid value: "null": must not update from a positive integer to nil value',
    ],
  ]);
  assert.deepEqual(
    causesOf({
      ...same,
      activeDeadlineSeconds: 100,
      tolerations: [{ key: "k", operator: "Equal", value: "w" }],
    }),
    [[
      "spec.tolerations",
      "Forbidden: existing toleration can not be modified except its tolerationSeconds",
    ]],
  );
  assert.deepEqual(
    causesOf({ ...same, activeDeadlineSeconds: 100, schedulingGates: [{ name: "new" }] }),
    [[
      "spec.schedulingGates[0]",
      "Forbidden: only deletion is allowed, but found new scheduling gate 'new'",
    ]],
  );
  // not gated: nodeSelector is part of the immutable rest
  assert.deepEqual(causesOf({ ...same, activeDeadlineSeconds: 100, nodeSelector: { zone: "b" } }), [
    [
      "spec",
      "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    ],
  ]);
});

Deno.test("pods update: a gated pod's node affinity may be set or narrowed, never widened", () => {
  const term = (...values: string[][]) => ({
    matchExpressions: values.map(([key, ...v]) => ({ key: key!, operator: "In", values: v })),
  });
  const affinity = (terms: unknown[] | undefined, preferred?: unknown[]) => ({
    nodeAffinity: {
      ...(terms
        ? { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } }
        : {}),
      ...(preferred ? { preferredDuringSchedulingIgnoredDuringExecution: preferred } : {}),
    },
  });
  const pod = (spec: Record<string, unknown>) =>
    create(base({ containers: [{ name: "c", image: "a:1" }], ...spec }));
  const update = (oldSpec: Record<string, unknown>, spec: Record<string, unknown>) => {
    const old = pod(oldSpec) as unknown as KubeObject;
    try {
      validateObject(pods, pod(spec), { fieldValidation: "Strict", old });
      return [];
    } catch (e) {
      assert.ok(e instanceof ApiError && e.code === 422, String(e));
      return (e.details?.causes ?? []).map((c) => [c.field, c.message.split("\n")[0]]);
    }
  };
  const gates = [{ name: "wait" }];
  const preferred = [{ weight: 1, preference: term(["disk", "ssd"]) }];
  // none before: anything may be set while gated, and the gate removed in the same update
  assert.deepEqual(
    update({ schedulingGates: gates }, { affinity: affinity([term(["zone", "a"])]) }),
    [],
  );
  // more expressions in an existing term, and preferred terms set
  assert.deepEqual(
    update(
      { schedulingGates: gates, affinity: affinity([term(["zone", "a", "b"])]) },
      {
        schedulingGates: gates,
        affinity: affinity([term(["zone", "a", "b"], ["rack", "1"])], preferred),
      },
    ),
    [],
  );
  const path = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
  assert.deepEqual(
    update(
      { schedulingGates: gates, affinity: affinity([term(["zone", "a", "b"])]) },
      { schedulingGates: gates, affinity: affinity([term(["zone", "a"])]) },
    ),
    [[
      `${path}.nodeSelectorTerms[0].matchExpressions`,
      'Invalid value: [{"key":"zone","operator":"In","values":["a"]}]: only additions are allowed (no mutations or deletions)',
    ]],
  );
  assert.deepEqual(
    update(
      { schedulingGates: gates, affinity: affinity([term(["zone", "a"])]) },
      { schedulingGates: gates, affinity: affinity([term(["zone", "a"]), term(["zone", "b"])]) },
    ).map(([field, message]) => [field, message!.replace(/^Invalid value: .*: /, "")]),
    [[
      `${path}.nodeSelectorTerms`,
      "no additions/deletions to non-empty NodeSelectorTerms list are allowed while pod is gated",
    ]],
  );
  // not gated: node affinity is as fixed as the rest of the spec
  const ungated = update({}, { affinity: affinity([term(["zone", "a"])]) });
  assert.equal(ungated.length, 1);
  assert.equal(ungated[0]![0], "spec");
  assert.match(ungated[0]![1]!, /^Forbidden: pod updates may not change fields other than/);
});

Deno.test("pods.validate() checks hostAliases: an IP and DNS names", () => {
  const pod = (hostAliases: unknown) =>
    base({ hostAliases, containers: [{ name: "c", image: "busybox:1" }] });
  assert.deepEqual(
    causes(pod([
      { ip: "10.0.0.300", hostnames: ["db"] },
      { ip: "fd00::1", hostnames: ["ok.example", "Bad_Name"] },
    ])),
    [
      [
        "spec.hostAliases[0].ip",
        'Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
      ],
      [
        "spec.hostAliases[1].hostnames[1]",
        `Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
      ],
    ],
  );
  assert.equal(
    create(pod([{ ip: "10.0.0.5", hostnames: ["db", "db.local"] }])).spec.hostAliases?.length,
    1,
  );
});
