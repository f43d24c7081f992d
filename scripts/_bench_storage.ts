/**
 * The `storage` part of the benchmark:
 *
 * - on `up` (real podman): pod start latency of the benchmark pod (two `sleep 3600` containers
 *   of the test image) without a volume, with an emptyDir, and with a claim of its own on the
 *   default `local-path` class (WaitForFirstConsumer: the scheduler picks the node, the agent
 *   provisions the directory and the PV, the binder binds, then the pod starts). The claim and
 *   the pod are POSTed one after the other, without waiting; the time runs from the first POST
 *   to the watch event that shows both containers running. Each start deletes its pod again
 *   (grace 0, untimed) and waits until its podman pod is gone; the claims stay.
 * - on `up`: delete → data gone for the claims those starts provisioned (their pods deleted
 *   first): from `DELETE` of the claim until the volume's directory and record file are gone
 *   from the disk and a watch reports the PersistentVolume deleted.
 * - in process, no podman (in a fresh Deno process, as the other in-process figures): a store
 *   in a temp file, the storage admission and the default class as the control plane has them,
 *   the real ControllerManager; VOLUMES static hostPath PVs (Retain, class `bench-static`, which
 *   has no StorageClass object: Immediate binding), all `Available` first, then CLAIMS claims of
 *   that class created by 8 concurrent writers, timed until every claim is `Bound`; plus the
 *   store writes from the first claim until 500 ms after the last was bound, by resource.
 *
 * As a program: `deno run -A scripts/_bench_storage.ts binder VOLUMES CLAIMS STORE_PATH` prints
 * one JSON {@linkcode BinderResult} (STORE_PATH is a file path, or `:memory:`).
 *
 * Traffic goes to the cluster's 127.0.0.1 address only; every wait is bounded in time, every
 * loop in count.
 *
 * @module
 */

import { Objects } from "../control/api/objects.ts";
import { ControllerManager } from "../control/controller_manager.ts";
import { Informer } from "../control/informer.ts";
import {
  ensureDefaultStorageClass,
  registerStorageAdmission,
} from "../control/volume/admission.ts";
import { openKvStore } from "../storage/kv_store.ts";
import { isPlainObject, type KubeObject } from "../storage/object.ts";
import { findKind } from "../storage/registry.ts";
import { storePrefix } from "../storage/resource.ts";
import { type Endpoint, httpRequest, ROOT, run, sleep } from "../tests/_harness.ts";
import { apiStart, benchPod, type Podman, type StartMethod, watchEvent } from "./_bench_pods.ts";
import { writtenKeys } from "./_bench_scale.ts";
import { formatMs, percentile, type Row } from "./_bench_stats.ts";

/** Sizes of the `storage` part. */
export interface StoragePlan {
  /** measured pod starts per variant (plain, emptyDir, claim), after `podWarmup` unmeasured */
  podStarts: number;
  podWarmup: number;
  /** bound on all pod starts */
  podStartsMaxMs: number;
  /** static volumes and claims of the in-process binder run */
  binderVolumes: number;
  binderClaims: number;
}

/** How the benchmark pod gets its volume. */
export type VolumeVariant = "plain" | "emptyDir" | "claim";

/** Where a pod's volume is mounted in each container. */
const MOUNT_PATH = "/data";
/** Request of every claim. */
const CLAIM_SIZE = "64Mi";
/** How often the disk is looked at while a volume's data is being removed. */
const DISK_POLL_MS = 10;
/** How often the API is asked whether a deleted pod is gone (untimed). */
const GONE_POLL_MS = 100;

/** The benchmark pod with `variant`'s volume mounted at /data in both containers. */
export function storagePod(name: string, variant: VolumeVariant): Record<string, unknown> {
  const pod = benchPod(name);
  if (variant === "plain") return pod;
  const spec = pod.spec as { containers: Array<Record<string, unknown>>; volumes?: unknown[] };
  spec.containers = spec.containers.map((c) => ({
    ...c,
    volumeMounts: [{ name: "data", mountPath: MOUNT_PATH }],
  }));
  spec.volumes = [
    variant === "emptyDir"
      ? { name: "data", emptyDir: {} }
      : { name: "data", persistentVolumeClaim: { claimName: name } },
  ];
  return pod;
}

/** A claim on the default class (the admission fills in `local-path`). */
export function benchClaim(name: string): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: CLAIM_SIZE } },
    },
  };
}

async function expectStatus(
  endpoint: Endpoint,
  method: string,
  path: string,
  ok: number[],
  body?: unknown,
): Promise<unknown> {
  const r = await httpRequest(endpoint, method, path, body);
  if (!ok.includes(r.status)) {
    throw new Error(`${method} ${path} -> ${r.status} ${r.text.slice(0, 300)}`);
  }
  return r.json;
}

/** Options of {@linkcode volumeStart}. */
export interface VolumeStartOptions {
  label: string;
  variant: VolumeVariant;
  endpoint: Endpoint;
  namespace: string;
  podman: Podman;
  /** bound on one start, and on one clean-up */
  timeoutMs: number;
  /** the `claim` variant appends the name of every claim whose pod ran (claims are kept) */
  claims?: string[];
}

/**
 * Starts the benchmark pod with `variant`'s volume through the API ({@linkcode apiStart}): the
 * time runs from the first POST (the claim's, for `claim`) to the event that shows every
 * container running. The pod is deleted afterwards; a claim stays, for
 * {@linkcode benchClaimDeletes}.
 */
export function volumeStart(options: VolumeStartOptions): StartMethod {
  const { endpoint, namespace, variant } = options;
  const claims = `/api/v1/namespaces/${namespace}/persistentvolumeclaims`;
  return apiStart({
    ...options,
    pod: (name) => storagePod(name, variant),
    ...(variant === "claim"
      ? {
        before: async (name: string) => {
          await expectStatus(endpoint, "POST", claims, [201], benchClaim(name));
        },
        onRunning: (name: string) => options.claims?.push(name),
      }
      : {}),
  });
}

/** Pod start rows: the plain one first; the others with their ratio to it. */
export function volumeStartRows(
  results: Array<{ label: string; latenciesMs: number[] }>,
  settings: string[],
): Row[] {
  const plain = results[0];
  const ratio = (a: number, b: number) => Number.isFinite(a / b) ? `×${(a / b).toFixed(2)}` : "n/a";
  return results.map((r, i) => {
    let result = `${r.latenciesMs.length} pods`;
    if (plain && i > 0) {
      result += `; ÷ no volume: ${
        ratio(percentile(r.latenciesMs, 50), percentile(plain.latenciesMs, 50))
      } p50, ${ratio(percentile(r.latenciesMs, 99), percentile(plain.latenciesMs, 99))} p99`;
    }
    return {
      benchmark: r.label,
      setting: settings[i] ?? "",
      result,
      p50: formatMs(percentile(r.latenciesMs, 50)),
      p99: formatMs(percentile(r.latenciesMs, 99)),
    };
  });
}

async function missing(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return true;
    throw error;
  }
}

/** Polls until neither `paths` exists; resolves with the time it saw that. Bounded by `signal`. */
async function diskGone(paths: string[], signal: AbortSignal): Promise<number> {
  while (!signal.aborted) {
    let gone = true;
    for (const path of paths) gone = gone && await missing(path);
    if (gone) return performance.now();
    await sleep(DISK_POLL_MS);
  }
  throw new Error(`${paths.join(" and ")} still there`);
}

/** Options of {@linkcode benchClaimDeletes}. */
export interface ClaimDeleteOptions {
  endpoint: Endpoint;
  namespace: string;
  /** claims with a provisioned volume; the pod of the same name (if any) is deleted already */
  claims: readonly string[];
  /** the first this many are deleted unmeasured */
  warmup: number;
  /** a volume's directory must lie under this directory (the agent's volumes root) */
  volumesRoot: string;
  /** bound on one deletion */
  timeoutMs: number;
  /** stop deleting (measured) claims after this long */
  maxMs: number;
  log: (message: string) => void;
}

/** What {@linkcode benchClaimDeletes} measured, per measured claim. */
export interface ClaimDeleteResult {
  /** DELETE → directory and PV both gone */
  goneMs: number[];
  /** DELETE → directory and record file gone from the disk */
  diskMs: number[];
  /** DELETE → the watch reports the PV deleted */
  volumeMs: number[];
  firstFailure?: string;
}

/**
 * Deletes the claims one by one: waits until the pod of the claim's name is gone from the API,
 * reads the claim's volume and its directory, opens a watch on the PV, then times `DELETE` of
 * the claim → the directory and its record file gone from the disk and the PV deleted.
 * Stops at the first failure (reported).
 */
export async function benchClaimDeletes(options: ClaimDeleteOptions): Promise<ClaimDeleteResult> {
  const { endpoint, namespace, timeoutMs } = options;
  const result: ClaimDeleteResult = { goneMs: [], diskMs: [], volumeMs: [] };
  const deadline = performance.now() + options.maxMs;
  const root = options.volumesRoot.replace(/\/+$/, "");
  for (const [i, name] of options.claims.entries()) {
    if (i >= options.warmup && performance.now() > deadline) break;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      const podPath = `/api/v1/namespaces/${namespace}/pods/${name}`;
      while ((await httpRequest(endpoint, "GET", podPath)).status !== 404) {
        if (abort.signal.aborted) throw new Error(`pod ${name} still there`);
        await sleep(GONE_POLL_MS);
      }
      const claimPath = `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${name}`;
      const claim = await expectStatus(endpoint, "GET", claimPath, [200]) as KubeObject;
      const spec = isPlainObject(claim.spec) ? claim.spec : {};
      const pvName = typeof spec.volumeName === "string" ? spec.volumeName : "";
      if (pvName === "") throw new Error(`claim ${name} is not bound`);
      const pv = await expectStatus(
        endpoint,
        "GET",
        `/api/v1/persistentvolumes/${pvName}`,
        [200],
      ) as KubeObject;
      const pvSpec = isPlainObject(pv.spec) ? pv.spec : {};
      const dir = isPlainObject(pvSpec.local) ? pvSpec.local.path : undefined;
      if (typeof dir !== "string" || !dir.startsWith(`${root}/`) || dir.includes("/../")) {
        throw new Error(`volume ${pvName}: directory ${dir} is not under ${root}`);
      }
      if (await missing(dir)) throw new Error(`volume ${pvName}: ${dir} does not exist`);
      const watch = await fetch(
        `${endpoint.url}/api/v1/persistentvolumes?watch=1&resourceVersion=${pv.metadata.resourceVersion}&fieldSelector=${
          encodeURIComponent(`metadata.name=${pvName}`)
        }`,
        {
          headers: { authorization: `Bearer ${endpoint.token}` },
          signal: abort.signal,
          client: endpoint.client,
        },
      );
      if (watch.status !== 200 || !watch.body) {
        throw new Error(`watch of PV ${pvName} -> ${watch.status} ${await watch.text()}`);
      }
      const volumeGone = watchEvent(watch.body, (type) => type === "DELETED");
      volumeGone.catch(() => {});
      const started = performance.now();
      const dataGone = diskGone([dir, `${dir}.json`], abort.signal);
      dataGone.catch(() => {});
      await expectStatus(endpoint, "DELETE", claimPath, [200, 202]);
      const [disk, volume] = await Promise.all([dataGone, volumeGone]).catch((error) => {
        throw abort.signal.aborted
          ? new Error(`claim ${name}: data or PV ${pvName} not gone within ${timeoutMs} ms`)
          : error;
      });
      if (i >= options.warmup) {
        result.diskMs.push(disk - started);
        result.volumeMs.push(volume - started);
        result.goneMs.push(Math.max(disk, volume) - started);
      }
    } catch (error) {
      result.firstFailure = `delete claim ${name}: ${error}`;
      options.log(result.firstFailure);
      break;
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
  }
  return result;
}

/** The delete → data gone row. */
export function claimDeleteRow(r: ClaimDeleteResult): Row {
  return {
    benchmark: "delete claim → data gone, `up`",
    setting: "local-path, Delete reclaim",
    result: `${r.goneMs.length} claims; directory gone p50 ${
      formatMs(percentile(r.diskMs, 50))
    }, PV gone p50 ${formatMs(percentile(r.volumeMs, 50))}`,
    p50: formatMs(percentile(r.goneMs, 50)),
    p99: formatMs(percentile(r.goneMs, 99)),
  };
}

// ---------------------------------------------------------------------------------------------
// The binder alone, in process

/** What the in-process binder run measured. */
export interface BinderResult {
  volumes: number;
  claims: number;
  /** first claim create → the last create returned */
  createMs: number;
  /** first claim create → every claim Bound */
  boundMs: number;
  /** store writes from the first claim create until 500 ms after all were bound */
  writes: number;
  /** those writes by resource (`/core/persistentvolumeclaims` …) */
  writesByResource: Record<string, number>;
}

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;
const STATIC_CLASS = "bench-static";
const CLAIM_WRITERS = 8;
const VOLUME = findKind("v1", "PersistentVolume")!;
const CLAIM = findKind("v1", "PersistentVolumeClaim")!;
const NAMESPACE = findKind("v1", "Namespace")!;

function phaseOf(obj: KubeObject): string | undefined {
  const status = isPlainObject(obj.status) ? obj.status : {};
  return typeof status.phase === "string" ? status.phase : undefined;
}

/** Resolves once `count()` reaches `want`, re-checked on every event of `informer`. */
function waitCount(
  informer: Informer,
  count: () => number,
  want: number,
  timeoutMs: number,
  what: string,
): { done: Promise<void>; check(): void } {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const timer = setTimeout(
    () => reject(new Error(`${what}: ${count()}/${want} after ${timeoutMs} ms`)),
    timeoutMs,
  );
  const check = () => {
    if (count() >= want) {
      clearTimeout(timer);
      resolve();
    }
  };
  informer.onEvent(check);
  return { done: promise, check };
}

/** The binder run described in the module doc, in this process. */
async function measureBinder(
  volumes: number,
  claims: number,
  path: string,
  timeoutMs: number,
): Promise<BinderResult> {
  const store = await openKvStore(path);
  const unregister = registerStorageAdmission(store);
  const objects = new Objects(store);
  const manager = new ControllerManager({ store });
  const volumeInformer = new Informer({ store, prefix: storePrefix(VOLUME), name: "bench PVs" });
  const claimInformer = new Informer({ store, prefix: storePrefix(CLAIM), name: "bench claims" });
  const available = new Set<string>();
  const bound = new Set<string>();
  volumeInformer.onEvent((ev) => {
    const name = ev.object.metadata.name ?? "";
    if (ev.type !== "delete" && phaseOf(ev.object) === "Available") available.add(name);
    else available.delete(name);
  });
  claimInformer.onEvent((ev) => {
    const name = ev.object.metadata.name ?? "";
    if (ev.type !== "delete" && phaseOf(ev.object) === "Bound") bound.add(name);
    else bound.delete(name);
  });
  const allAvailable = waitCount(
    volumeInformer,
    () => available.size,
    volumes,
    timeoutMs,
    "volumes Available",
  );
  const allBound = waitCount(claimInformer, () => bound.size, claims, timeoutMs, "claims Bound");
  allAvailable.done.catch(() => {});
  allBound.done.catch(() => {});
  try {
    await objects.create(NAMESPACE, undefined, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "default" },
    }, WRITE);
    await ensureDefaultStorageClass(objects);
    await manager.start();
    await volumeInformer.start();
    await claimInformer.start();
    for (let i = 0; i < volumes; i++) {
      await objects.create(VOLUME, undefined, {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: `pv-${String(i).padStart(4, "0")}` },
        spec: {
          capacity: { storage: "1Gi" },
          accessModes: ["ReadWriteOnce"],
          persistentVolumeReclaimPolicy: "Retain",
          storageClassName: STATIC_CLASS,
          volumeMode: "Filesystem",
          hostPath: { path: `/srv/bench/pv-${i}` },
        },
      }, WRITE);
    }
    allAvailable.check();
    await allAvailable.done;
    await sleep(500);

    const before = store.revision();
    const started = performance.now();
    let next = 0;
    const writer = async () => {
      while (next < claims) {
        const i = next++;
        await objects.create(CLAIM, "default", {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: `claim-${String(i).padStart(4, "0")}`, namespace: "default" },
          spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: "1Gi" } },
            storageClassName: STATIC_CLASS,
            volumeMode: "Filesystem",
          },
        }, WRITE);
      }
    };
    await Promise.all(Array.from({ length: CLAIM_WRITERS }, writer));
    const createMs = performance.now() - started;
    allBound.check();
    await allBound.done;
    const boundMs = performance.now() - started;
    await sleep(500);
    const after = store.revision();
    const writesByResource: Record<string, number> = {};
    for (const key of await writtenKeys(store, before, after)) {
      const resource = key.split("/").slice(0, 3).join("/");
      writesByResource[resource] = (writesByResource[resource] ?? 0) + 1;
    }
    return { volumes, claims, createMs, boundMs, writes: after - before, writesByResource };
  } finally {
    await claimInformer.stop();
    await volumeInformer.stop();
    await manager.stop();
    unregister();
    await store.close();
  }
}

/**
 * The in-process binder run (see the module doc) in a child process, its store at `storePath`
 * (a file in a directory the caller removes, or `:memory:`); bounded by `timeoutMs`. `stderr`
 * is what the controllers logged (nothing, normally).
 */
export async function benchBinder(
  volumes: number,
  claims: number,
  storePath: string,
  timeoutMs: number,
): Promise<BinderResult & { stderr: string }> {
  const args = ["binder", String(volumes), String(claims), storePath];
  const result = await run(
    Deno.execPath(),
    ["run", "--allow-all", `${ROOT}/scripts/_bench_storage.ts`, ...args],
    { timeoutMs },
  );
  if (result.code !== 0) {
    throw new Error(
      `_bench_storage.ts ${args.join(" ")} failed (exit ${result.code}): ${result.stderr}`,
    );
  }
  return { ...JSON.parse(result.stdout) as BinderResult, stderr: result.stderr };
}

/** The binder row. */
export function binderRow(r: BinderResult, store: string): Row {
  const per = (n: number) => (n / r.claims).toFixed(1);
  const by = Object.entries(r.writesByResource)
    .sort(([, a], [, b]) => b - a)
    .map(([resource, n]) => `${resource.split("/").at(-1)} ${per(n)}`)
    .join(", ");
  return {
    benchmark: "bind claims to static PVs, in process",
    setting: `${r.claims} claims, ${r.volumes} hostPath PVs, ${store}`,
    result: `${Math.round(r.claims / (r.boundMs / 1000))} claims bound/s (all in ${
      formatMs(r.boundMs)
    }, created in ${formatMs(r.createMs)}); ${per(r.writes)} store writes per claim (${by})`,
    p50: "",
    p99: "",
  };
}

if (import.meta.main) {
  const [mode, volumes, claims, path] = Deno.args;
  if (mode !== "binder" || !Number(volumes) || !Number(claims) || !path) {
    console.error("usage: _bench_storage.ts binder VOLUMES CLAIMS STORE_PATH");
    Deno.exit(2);
  }
  const result = await measureBinder(Number(volumes), Number(claims), path, 120_000);
  console.log(JSON.stringify(result));
}
