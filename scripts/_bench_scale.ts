/**
 * The controllers' benchmark: how fast a Deployment scales, and what the controllers cost
 * while nothing happens.
 *
 * Simulated (in a fresh Deno process, so the figures do not depend on what the benchmark process
 * did before): an in-memory store, the components the leader runs in `control/server.ts`
 * (namespace controller, garbage collector, scheduler binding through `bindPod`, the
 * ControllerManager), the API app in-process for `kubectl scale`'s request, and NODES simulated
 * Ready nodes whose agents are a fake kubelet: it renews each node's Lease every 10 s, as real
 * agents do, and reports every pod bound to one of its nodes Running and Ready at once (and
 * finishes graceful deletions at once); no podman.
 *
 * - `scale`: a Deployment with replicas 0, then `PATCH …/deployments/NAME/scale` to REPLICAS,
 *   timed until the Deployment's `status.availableReplicas` is REPLICAS; scaled back to 0 and
 *   its pods gone (untimed) between runs, after one unmeasured warm-up run.
 * - `idle`: a Deployment scaled to PODS, all available, 2 s to settle, then the process's CPU
 *   time and the store writes other than the Lease renewals over SECONDS of doing nothing.
 *
 * As a program: `deno run -A scripts/_bench_scale.ts scale NODES REPLICAS RUNS` or
 * `… idle NODES PODS SECONDS` prints one JSON object ({@linkcode ScaleResult} or
 * {@linkcode IdleResult}). {@linkcode benchScaleOnCluster} is the same scale-up through HTTP
 * on a real cluster.
 *
 * @module
 */

import process from "node:process";
import { createApiApp } from "../control/api/app.ts";
import { bindPod } from "../control/api/binding.ts";
import { Objects, timestamp } from "../control/api/objects.ts";
import { ControllerManager } from "../control/controller_manager.ts";
import { GarbageCollector } from "../control/garbage_collector.ts";
import { Informer } from "../control/informer.ts";
import { NamespaceController } from "../control/namespace_controller.ts";
import { Scheduler } from "../control/scheduler/mod.ts";
import { WorkQueue } from "../control/work_queue.ts";
import { watchUntil } from "./_bench_pods.ts";
import { nodeObject } from "../node/node_status.ts";
import { type KvStore, openKvStore } from "../storage/kv_store.ts";
import { isPlainObject, type KubeObject } from "../storage/object.ts";
import { findKind, RESOURCE_TYPES } from "../storage/registry.ts";
import { storeKey, storePrefix } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import { microTime } from "../storage/time.ts";
import { type Endpoint, httpRequest, ROOT, run, sleep } from "../tests/_harness.ts";

/** What `scale` measured. */
export interface ScaleResult {
  nodes: number;
  replicas: number;
  /** PATCH scale → availableReplicas = replicas, per measured run */
  runsMs: number[];
  /** store writes from the PATCH until 500 ms after all were available, per measured run */
  writes: number[];
  /** those writes of the last run by resource (`/apps/replicasets` …) */
  writesByResource: Record<string, number>;
}

/** What `idle` measured. */
export interface IdleResult {
  nodes: number;
  pods: number;
  /** PATCH scale 0 → pods, until all were available (untimed for the table, but telling) */
  scaleUpMs: number;
  /** the measured window */
  windowMs: number;
  /** user + system CPU time of the whole process during the window */
  cpuMs: number;
  /** store writes in the window, not counting the fake agents' Lease renewals */
  writes: number;
  /** the Lease renewals in the window */
  leaseRenewals: number;
  /** keys of the writes counted in `writes` (the first 20) */
  writtenKeys: string[];
}

const DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments";
const TOKEN = "bench-token";
const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;
/** Renewal period of the fake agents' Leases (the real agent's). */
const LEASE_RENEW_MS = 10_000;
const NODE_LEASE_NAMESPACE = "kube-node-lease";
/** Bound on one wait for the cluster to converge. */
const CONVERGE_TIMEOUT_MS = 120_000;

const POD = findKind("v1", "Pod")!;
const NODE = findKind("v1", "Node")!;
const NAMESPACE = findKind("v1", "Namespace")!;
const LEASE = findKind("coordination.k8s.io/v1", "Lease")!;
const DEPLOYMENT = findKind("apps/v1", "Deployment")!;

/** Wakes waiters whenever one of the informers it is fed by reports a change. */
class Changes {
  readonly #wakers = new Set<() => void>();

  notify(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /** Resolves at the first change after which `check()` holds; throws after `timeoutMs`. */
  async until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#wakers.add(wake);
      });
    }
  }
}

interface DeploymentStatus {
  replicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
}

function statusOf(obj: KubeObject | undefined): DeploymentStatus {
  return (isPlainObject(obj?.status) ? obj.status : {}) as DeploymentStatus;
}

function isReady(pod: KubeObject): boolean {
  const status = isPlainObject(pod.status) ? pod.status : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  return conditions.some((c) => isPlainObject(c) && c.type === "Ready" && c.status === "True");
}

function nodeNameOf(pod: KubeObject): string | undefined {
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  return typeof spec.nodeName === "string" && spec.nodeName !== "" ? spec.nodeName : undefined;
}

/** The pod status a kubelet reports once every container of `pod` runs and is ready. */
function runningStatus(pod: KubeObject, node: number, podIp: string): Record<string, unknown> {
  const now = timestamp(new Date());
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  const condition = (type: string) => ({ type, status: "True", lastTransitionTime: now });
  return {
    phase: "Running",
    conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map(condition),
    hostIP: `10.0.0.${node + 1}`,
    podIP: podIp,
    podIPs: [{ ip: podIp }],
    startTime: now,
    containerStatuses: containers.filter(isPlainObject).map((c) => ({
      name: c.name,
      image: c.image,
      imageID: "",
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: now } },
    })),
  };
}

/**
 * The fake kubelets of the simulated nodes: one work queue per node (agents work in parallel),
 * fed by one pod informer; a bound pod that is not Ready gets a Running, Ready status, a pod
 * being deleted is deleted with grace 0. Also renews every node's Lease every 10 s.
 */
class FakeKubelets {
  readonly #objects: Objects;
  readonly #nodes: string[];
  readonly #queues = new Map<string, WorkQueue>();
  readonly #podIps = new Map<string, number>();
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly pods: Informer;

  constructor(store: KvStore, objects: Objects, nodes: string[], changes: Changes) {
    this.#objects = objects;
    this.#nodes = nodes;
    this.pods = new Informer({ store, prefix: storePrefix(POD), name: "fake kubelet pods" });
    for (const [i, node] of nodes.entries()) {
      this.#queues.set(
        node,
        new WorkQueue({
          reconcile: (key) => this.#reconcile(key, i),
          onError: (key, e) => console.error(`fake kubelet ${node}: ${key}:`, e),
          retryMs: 100,
        }),
      );
    }
    this.pods.onEvent((ev) => {
      changes.notify();
      if (ev.type === "delete") return;
      const node = nodeNameOf(ev.object);
      const queue = node === undefined ? undefined : this.#queues.get(node);
      if (queue && (ev.object.metadata.deletionTimestamp || !isReady(ev.object))) {
        queue.add(storeKey(POD, ev.object.metadata.namespace, ev.object.metadata.name!));
      }
    });
  }

  /** Registers the nodes: a Ready Node and its Lease each. */
  async register(): Promise<void> {
    const now = Date.now();
    for (const [i, name] of this.#nodes.entries()) {
      const node = nodeObject({
        hostname: name,
        cpus: 8,
        memoryBytes: 32 * 1024 ** 3,
        kernelVersion: "6.1.0",
        osImage: "Debian GNU/Linux 12 (bookworm)",
        architecture: "x86_64",
        machineId: crypto.randomUUID().replaceAll("-", ""),
        bootId: crypto.randomUUID(),
        internalIp: `10.0.0.${i + 1}`,
      }, {
        name,
        labels: {},
        containerRuntimeVersion: "fake://1",
        agentPort: 10250,
        maxPods: 110,
        version: "v1.31.0-edge",
      }, timestamp(new Date(now)));
      await this.#objects.create(NODE, undefined, node, WRITE);
      await this.#objects.create(LEASE, NODE_LEASE_NAMESPACE, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace: NODE_LEASE_NAMESPACE },
        spec: {
          holderIdentity: name,
          leaseDurationSeconds: 40,
          acquireTime: microTime(now),
          renewTime: microTime(now),
        },
      }, WRITE);
    }
  }

  /** One renewal of every node's Lease, as each agent does every 10 s. */
  async renewLeases(): Promise<void> {
    for (const name of this.#nodes) {
      await this.#objects.patch(LEASE, NODE_LEASE_NAMESPACE, name, "application/merge-patch+json", {
        spec: { renewTime: microTime(Date.now()) },
      }, WRITE);
    }
  }

  /** Follows the pods and starts renewing the Leases every 10 s (after {@linkcode register}). */
  async start(): Promise<void> {
    await this.pods.start();
    for (const queue of this.#queues.values()) queue.start();
    this.#timer = setInterval(() => {
      this.renewLeases().catch((e) => console.error("fake kubelet: Lease renewal failed:", e));
    }, LEASE_RENEW_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all([...this.#queues.values()].map((q) => q.stop()));
    await this.pods.stop();
  }

  async #reconcile(key: string, node: number): Promise<boolean> {
    const pod = this.pods.get(key);
    if (!pod || nodeNameOf(pod) !== this.#nodes[node]) return false;
    const { namespace, name = "", uid } = pod.metadata;
    try {
      if (pod.metadata.deletionTimestamp) {
        await this.#objects.delete(POD, namespace, name, {
          gracePeriodSeconds: 0,
          preconditions: { ...(uid ? { uid } : {}) },
          dryRun: false,
        });
      } else if (!isReady(pod)) {
        const n = this.#podIps.get(this.#nodes[node]!) ?? 0;
        this.#podIps.set(this.#nodes[node]!, n + 1);
        const ip = `10.244.${node}.${(n % 250) + 2}`;
        await this.#objects.patch(POD, namespace, name, "application/merge-patch+json", {
          status: runningStatus(pod, node, ip),
        }, { ...WRITE, subresource: "status" });
      }
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === "NotFound")) throw e;
    }
    return false;
  }
}

/** A simulated cluster: store, control-plane components, fake kubelets, API app. */
interface Sim {
  store: KvStore;
  changes: Changes;
  deployments: Informer;
  kubelets: FakeKubelets;
  /** one request to the in-process API app (as admin) */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown>;
  close(): Promise<void>;
}

async function startSim(nodeCount: number): Promise<Sim> {
  const store = await openKvStore(":memory:");
  const objects = new Objects(store);
  const started: Array<{ stop(): Promise<void> }> = [];
  const close = async () => {
    for (const component of started.reverse()) await component.stop();
    await store.close();
  };
  try {
    for (const name of ["default", "kube-system", NODE_LEASE_NAMESPACE]) {
      await objects.create(NAMESPACE, undefined, {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name },
      }, WRITE);
    }
    const changes = new Changes();
    const nodes = Array.from({ length: nodeCount }, (_, i) => `sim-${String(i).padStart(3, "0")}`);
    const kubelets = new FakeKubelets(store, objects, nodes, changes);
    await kubelets.register();
    // the components the leader runs, as control/server.ts builds them
    const components = [
      new NamespaceController({ store, types: RESOURCE_TYPES }),
      new GarbageCollector({ store, types: RESOURCE_TYPES }),
      new Scheduler({
        store,
        types: RESOURCE_TYPES,
        objects,
        bind: async (pod, node, resourceVersion) => {
          await bindPod(
            objects,
            POD,
            pod.metadata.namespace!,
            pod.metadata.name!,
            node,
            resourceVersion,
          );
        },
      }),
      new ControllerManager({ store }),
    ];
    for (const component of components) {
      await component.start();
      started.push(component);
    }
    await kubelets.start();
    started.push(kubelets);
    const deployments = new Informer({
      store,
      prefix: storePrefix(DEPLOYMENT),
      name: "bench deployments",
    });
    deployments.onEvent(() => changes.notify());
    await deployments.start();
    started.push(deployments);

    const app = createApiApp({ store, tokens: [TOKEN] });
    const request = async (method: string, path: string, body?: unknown, contentType?: string) => {
      const response = await app.request(path, {
        method,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "content-type": contentType ?? "application/json",
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (response.status >= 300) {
        throw new Error(`${method} ${path} -> ${response.status} ${text.slice(0, 300)}`);
      }
      return JSON.parse(text);
    };
    return { store, changes, deployments, kubelets, request, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** A Deployment of one container with `replicas` replicas, labelled `app: name`. */
export function benchDeployment(
  name: string,
  replicas: number,
  podSpec: Record<string, unknown> = {
    containers: [{ name: "main", image: "registry.local/bench:1" }],
  },
): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: podSpec },
    },
  };
}

/** The scale subresource's merge patch, as `kubectl scale --replicas=N` sends it. */
function scalePatch(replicas: number): Record<string, unknown> {
  return { spec: { replicas } };
}

/** Creates the Deployment with 0 replicas and waits until its controller has seen it. */
async function createIdle(sim: Sim, name: string): Promise<void> {
  await sim.request("POST", DEPLOYMENTS, benchDeployment(name, 0));
  const key = storeKey(DEPLOYMENT, "default", name);
  await sim.changes.until(
    () => {
      const d = sim.deployments.get(key);
      return d !== undefined && statusOf(d).observedGeneration === d.metadata.generation;
    },
    CONVERGE_TIMEOUT_MS,
    `deployment ${name} to be observed`,
  );
}

/** PATCHes the scale of `name` to `replicas`; resolves when all are available, with the ms. */
async function scaleTo(sim: Sim, name: string, replicas: number): Promise<number> {
  const key = storeKey(DEPLOYMENT, "default", name);
  const started = performance.now();
  await sim.request(
    "PATCH",
    `${DEPLOYMENTS}/${name}/scale`,
    scalePatch(replicas),
    "application/merge-patch+json",
  );
  await sim.changes.until(
    () => {
      const d = sim.deployments.get(key);
      const status = statusOf(d);
      return d !== undefined && (status.observedGeneration ?? 0) >= (d.metadata.generation ?? 1) &&
        (status.availableReplicas ?? 0) === replicas && (status.replicas ?? 0) === replicas;
    },
    CONVERGE_TIMEOUT_MS,
    `deployment ${name} to have ${replicas} available replicas`,
  );
  return performance.now() - started;
}

/** Scales `name` to 0 and waits until none of its pods is left. */
async function scaleDown(sim: Sim, name: string): Promise<void> {
  await scaleTo(sim, name, 0);
  await sim.changes.until(
    () => !sim.kubelets.pods.list().some((p) => p.metadata.labels?.app === name),
    CONVERGE_TIMEOUT_MS,
    `the pods of ${name} to be gone`,
  );
}

/** The writes with revisions in (from, to], by key; the store keeps them as its change log. */
export async function writtenKeys(
  store: KvStore,
  from: number,
  to: number,
): Promise<string[]> {
  const keys: string[] = [];
  if (to <= from) return keys;
  const watch = store.watch("/", from);
  const timer = setTimeout(() => watch.close(), 5_000);
  try {
    for await (const ev of watch) {
      keys.push(ev.key);
      if (ev.revision >= to) break;
    }
  } finally {
    clearTimeout(timer);
    watch.close();
  }
  return keys;
}

/** `/apps/replicasets/default/web-1` → `/apps/replicasets`. */
function resourceOf(key: string): string {
  return key.split("/").slice(0, 3).join("/");
}

async function measureScale(nodes: number, replicas: number, runs: number): Promise<ScaleResult> {
  const sim = await startSim(nodes);
  try {
    const result: ScaleResult = { nodes, replicas, runsMs: [], writes: [], writesByResource: {} };
    await createIdle(sim, "scale");
    for (let i = 0; i <= runs; i++) {
      const before = sim.store.revision();
      const ms = await scaleTo(sim, "scale", replicas);
      await sleep(500);
      const after = sim.store.revision();
      if (i > 0) {
        result.runsMs.push(ms);
        result.writes.push(after - before);
      }
      if (i === runs) {
        for (const key of await writtenKeys(sim.store, before, after)) {
          const resource = resourceOf(key);
          result.writesByResource[resource] = (result.writesByResource[resource] ?? 0) + 1;
        }
      }
      await scaleDown(sim, "scale");
    }
    return result;
  } finally {
    await sim.close();
  }
}

async function measureIdle(nodes: number, pods: number, seconds: number): Promise<IdleResult> {
  const sim = await startSim(nodes);
  try {
    await createIdle(sim, "idle");
    const scaleUpMs = await scaleTo(sim, "idle", pods);
    // one round of renewals ahead of the agents' own, so the window measures the steady state
    // of a long-running cluster rather than the first compile of that code path
    await sim.kubelets.renewLeases();
    await sleep(2_000);
    const revision = sim.store.revision();
    const cpu = process.cpuUsage();
    const started = performance.now();
    await sleep(seconds * 1000);
    const used = process.cpuUsage(cpu);
    const windowMs = performance.now() - started;
    const keys = await writtenKeys(sim.store, revision, sim.store.revision());
    const leasePrefix = storePrefix(LEASE, NODE_LEASE_NAMESPACE);
    const others = keys.filter((k) => !k.startsWith(leasePrefix));
    return {
      nodes,
      pods,
      scaleUpMs,
      windowMs,
      cpuMs: (used.user + used.system) / 1000,
      writes: others.length,
      leaseRenewals: keys.length - others.length,
      writtenKeys: others.slice(0, 20),
    };
  } finally {
    await sim.close();
  }
}

/** Runs this file as a child process (bounded by `timeoutMs`) and returns what it printed. */
async function runChild<T>(args: string[], timeoutMs: number): Promise<T & { stderr: string }> {
  const result = await run(
    Deno.execPath(),
    ["run", "--allow-all", `${ROOT}/scripts/_bench_scale.ts`, ...args],
    { timeoutMs },
  );
  if (result.code !== 0) {
    throw new Error(
      `_bench_scale.ts ${args.join(" ")} failed (exit ${result.code}): ${result.stderr}`,
    );
  }
  return { ...JSON.parse(result.stdout) as T, stderr: result.stderr };
}

/**
 * Simulated scale-up (see the module doc) in a child process; `stderr` is what the controllers
 * logged (nothing, normally).
 */
export function benchScaleSimulated(
  nodes: number,
  replicas: number,
  runs: number,
  timeoutMs: number,
): Promise<ScaleResult & { stderr: string }> {
  return runChild(["scale", String(nodes), String(replicas), String(runs)], timeoutMs);
}

/** Idle controllers over `pods` simulated pods (see the module doc) in a child process. */
export function benchIdleControllers(
  nodes: number,
  pods: number,
  seconds: number,
  timeoutMs: number,
): Promise<IdleResult & { stderr: string }> {
  return runChild(["idle", String(nodes), String(pods), String(seconds)], timeoutMs);
}

/** Options of {@linkcode benchScaleOnCluster}. */
export interface ClusterScaleOptions {
  endpoint: Endpoint;
  namespace: string;
  name: string;
  replicas: number;
  podSpec: Record<string, unknown>;
  /** bound on the scale-up, and on the clean-up */
  timeoutMs: number;
  /** resolves once the pods with these uids are gone from the node too (untimed clean-up) */
  waitPodsGone: (uids: string[]) => Promise<void>;
}

/**
 * On a real cluster: creates the Deployment with 0 replicas, waits until its controller has
 * seen it, then times `PATCH …/scale` to `replicas` → a watch event with that many available.
 * Deletes it afterwards and waits until its pods are gone (untimed).
 */
export async function benchScaleOnCluster(options: ClusterScaleOptions): Promise<number> {
  const { endpoint, namespace, name, replicas, timeoutMs } = options;
  const base = `/apis/apps/v1/namespaces/${namespace}/deployments`;
  const created = await httpRequest(
    endpoint,
    "POST",
    base,
    benchDeployment(name, 0, options.podSpec),
  );
  if (created.status !== 201) {
    throw new Error(`POST ${base} -> ${created.status} ${created.text.slice(0, 300)}`);
  }
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    const rv = (created.json as KubeObject).metadata.resourceVersion;
    const watch = await fetch(
      `${endpoint.url}${base}?watch=1&resourceVersion=${rv}&fieldSelector=${
        encodeURIComponent(`metadata.name=${name}`)
      }`,
      {
        headers: { authorization: `Bearer ${endpoint.token}` },
        signal: abort.signal,
        client: endpoint.client,
      },
    );
    if (watch.status !== 200 || !watch.body) {
      throw new Error(`watch ${base} -> ${watch.status} ${(await watch.text()).slice(0, 300)}`);
    }
    const [observed, rest] = watch.body.tee();
    // the controller has seen the Deployment (status written) before the scale is timed
    await watchUntil<KubeObject>(
      observed,
      (d) => statusOf(d).observedGeneration === d.metadata.generation,
    );
    const started = performance.now();
    const available = watchUntil<KubeObject>(
      rest,
      (d) => (statusOf(d).availableReplicas ?? 0) >= replicas,
    );
    available.catch(() => {});
    const path = `${base}/${name}/scale`;
    const scaled = await httpRequest(endpoint, "PATCH", path, scalePatch(replicas), {
      "content-type": "application/merge-patch+json",
    });
    if (scaled.status !== 200) {
      throw new Error(`PATCH ${path} -> ${scaled.status} ${scaled.text.slice(0, 300)}`);
    }
    const at = await available.catch((error) => {
      throw abort.signal.aborted
        ? new Error(`deployment ${name}: not ${replicas} available within ${timeoutMs} ms`)
        : error;
    });
    return at - started;
  } finally {
    clearTimeout(timer);
    abort.abort();
    await deleteOnCluster(options);
  }
}

/** Deletes the Deployment (its ReplicaSet and pods go with it) and waits until they are gone. */
async function deleteOnCluster(options: ClusterScaleOptions): Promise<void> {
  const { endpoint, namespace, name, timeoutMs } = options;
  const pods = `/api/v1/namespaces/${namespace}/pods?labelSelector=${
    encodeURIComponent(`app=${name}`)
  }`;
  const listPods = async () => {
    const list = await httpRequest(endpoint, "GET", pods);
    if (list.status !== 200) {
      throw new Error(`GET ${pods} -> ${list.status} ${list.text.slice(0, 300)}`);
    }
    return (list.json as { items: KubeObject[] }).items;
  };
  const uids = (await listPods()).flatMap((pod) => pod.metadata.uid ?? []);
  const path = `/apis/apps/v1/namespaces/${namespace}/deployments/${name}`;
  const deleted = await httpRequest(endpoint, "DELETE", path, {
    apiVersion: "v1",
    kind: "DeleteOptions",
    propagationPolicy: "Background",
  });
  if (deleted.status !== 200 && deleted.status !== 202 && deleted.status !== 404) {
    throw new Error(`DELETE ${path} -> ${deleted.status} ${deleted.text.slice(0, 300)}`);
  }
  const deadline = performance.now() + timeoutMs;
  while ((await listPods()).length > 0) {
    if (performance.now() > deadline) {
      throw new Error(`the pods of deployment ${name} still there after ${timeoutMs} ms`);
    }
    await sleep(200);
  }
  await options.waitPodsGone(uids);
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  const [nodes, count, third] = rest.map(Number);
  if ((mode !== "scale" && mode !== "idle") || !nodes || !count || !third) {
    console.error("usage: _bench_scale.ts scale NODES REPLICAS RUNS | idle NODES PODS SECONDS");
    Deno.exit(2);
  }
  const result = mode === "scale"
    ? await measureScale(nodes, count, third)
    : await measureIdle(nodes, count, third);
  console.log(JSON.stringify(result));
}
