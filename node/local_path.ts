/**
 * `LocalPathProvisioner`: the agent's dynamic provisioner for StorageClasses whose provisioner
 * is `edge.io/local-path`, and the deleter of the volumes it made.
 *
 * Provisioning: a claim asks this node for a volume when it is unbound and carries both
 * `volume.kubernetes.io/storage-provisioner: edge.io/local-path` and
 * `volume.kubernetes.io/selected-node: <this node>`. The provisioner makes the directory
 * `<dataDir>/volumes/pvc-<claim uid>_<namespace>_<name>` (mode 0777) and beside it a record
 * file of the same name + `.json` (`{volume, claim, storageClass, capacity, node, created}`),
 * then creates PersistentVolume `pvc-<claim uid>`: a `local` volume with node affinity to this
 * node, pre-bound to the claim (`claimRef`), sized and moded as the claim asks, with the
 * class's reclaim policy. The PV controller completes the binding.
 *
 * Deleting: a volume that is `Released`, has reclaim policy `Delete`, was provisioned by
 * `edge.io/local-path` and whose node affinity names this node loses its directory and record
 * (only ever a path directly under the volumes root, named after the volume), then the
 * PersistentVolume object.
 *
 * Level-based, like a controller: cache events only enqueue a key (`claim/<ns>/<name>` or
 * `volume/<name>`), one reconcile per key reads the current state (the caches, then the live
 * object before acting), and a failure retries the key with exponential back-off. Claims get
 * Events as Kubernetes' external provisioners give them: `Provisioning`,
 * `ProvisioningSucceeded`, `ProvisioningFailed`; volumes `VolumeFailedDelete`.
 *
 * @example
 * ```ts
 * const provisioner = new LocalPathProvisioner({
 *   nodeName: "edge-1", dataDir: "/var/lib/edge/agent", client,
 *   claims, volumes, classes, events: recorder.record,
 * });
 * provisioner.start();
 * await provisioner.stop();
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import { isPlainObject, type KubeObject } from "../storage/object.ts";
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  annotation,
  claimClassName,
  claimVolumeName,
  HOSTNAME_LABEL,
  LOCAL_PATH_PROVISIONER,
  phaseOf,
  provisionedVolumeName,
  PROVISIONER_FINALIZER,
  reclaimPolicyOf,
  volumeHostPath,
} from "../storage/persistent_volumes.ts";
import { ApiError } from "../storage/status.ts";
import { Backoff } from "./backoff.ts";
import type { EventType, RecordEvent } from "./events.ts";
import type { CacheView } from "./object_cache.ts";

/** The part of the API client the provisioner uses (`ApiClient` has it). */
export interface ProvisionerClient {
  /** an object, or `null` when it does not exist */
  get(path: string): Promise<KubeObject | null>;
  create(collectionPath: string, obj: unknown): Promise<KubeObject>;
  /** PUT with the body's resourceVersion as the precondition */
  update(path: string, obj: unknown): Promise<KubeObject>;
  /** false when the object was already gone */
  delete(path: string, options?: Record<string, unknown>): Promise<boolean>;
}

/** Options of {@linkcode LocalPathProvisioner}. */
export interface LocalPathProvisionerOptions {
  /** this node: the claims whose selected-node it is, the volumes whose affinity names it */
  nodeName: string;
  /** the agent's data dir; volumes live in `<dataDir>/volumes` */
  dataDir: string;
  client: ProvisionerClient;
  /** PersistentVolumeClaims of all namespaces */
  claims: CacheView;
  /** PersistentVolumes */
  volumes: CacheView;
  /** StorageClasses */
  classes: CacheView;
  /** where Events on claims and volumes go; dropped by default */
  events?: RecordEvent;
  clock?: Clock;
  /** first retry delay of a failed key (default 1 s, doubling up to 5 min) */
  retryMs?: number;
  /** how long start waits for the caches before it says so and waits on (default 30 s) */
  syncWaitMs?: number;
}

/** What the record file beside a volume's directory holds. */
export interface VolumeRecord {
  volume: string;
  claim: { namespace: string; name: string; uid: string };
  storageClass: string;
  /** the claim's storage request, as written (`64Mi`) */
  capacity: string;
  node: string;
  /** RFC 3339 */
  created: string;
}

const MAX_RETRY_MS = 300_000;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function record(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

/**
 * The directory name of the volume for `claim`: `pvc-<uid>_<namespace>_<name>`, after checking
 * that each part is safe in a path (a DNS-1123 label namespace, a DNS-1123 subdomain name, a
 * UUID-shaped uid: none can hold `/` or `..`).
 *
 * @throws {Error} naming the part that is not
 */
export function volumeDirName(claim: KubeObject): string {
  const { namespace = "", name = "", uid = "" } = claim.metadata;
  if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) {
    throw new Error(`claim namespace "${namespace}" is not a DNS-1123 label`);
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    throw new Error(`claim name "${name}" is not a DNS-1123 subdomain`);
  }
  if (!UUID.test(uid)) throw new Error(`claim uid "${uid}" is not a UUID`);
  return `${provisionedVolumeName(uid)}_${namespace}_${name}`;
}

/** Whether `claim` asks this node's local-path provisioner for a volume now. */
export function isProvisioningRequest(claim: KubeObject, nodeName: string): boolean {
  const provisioner = annotation(claim, ANN_STORAGE_PROVISIONER) ??
    annotation(claim, ANN_BETA_STORAGE_PROVISIONER);
  return provisioner === LOCAL_PATH_PROVISIONER &&
    annotation(claim, ANN_SELECTED_NODE) === nodeName &&
    !claim.metadata.deletionTimestamp &&
    claimVolumeName(claim) === "" &&
    phaseOf(claim) !== "Bound";
}

/** The hostnames a volume's required node affinity allows (`kubernetes.io/hostname In …`). */
export function affinityHostnames(volume: KubeObject): string[] {
  const required = record(record(record(volume.spec).nodeAffinity).required);
  const terms = Array.isArray(required.nodeSelectorTerms) ? required.nodeSelectorTerms : [];
  return terms.flatMap((term) => {
    const exprs = record(term).matchExpressions;
    return (Array.isArray(exprs) ? exprs : []).flatMap((e) => {
      const expr = record(e);
      if (expr.key !== HOSTNAME_LABEL || expr.operator !== "In") return [];
      return Array.isArray(expr.values) ? expr.values.filter((v) => typeof v === "string") : [];
    });
  });
}

function ownedHere(volume: KubeObject, nodeName: string): boolean {
  return annotation(volume, ANN_PROVISIONED_BY) === LOCAL_PATH_PROVISIONER &&
    affinityHostnames(volume).includes(nodeName);
}

/**
 * Whether this node must delete `volume`'s data: provisioned by `edge.io/local-path` on
 * `nodeName`, reclaim policy Delete, and Released (its claim is gone) or deleted by hand while
 * not Bound.
 */
export function isDeletable(volume: KubeObject, nodeName: string): boolean {
  if (!ownedHere(volume, nodeName) || reclaimPolicyOf(volume) !== "Delete") return false;
  const phase = phaseOf(volume);
  return phase === "Released" ||
    (volume.metadata.deletionTimestamp !== undefined && phase !== "Bound");
}

/**
 * Whether this node only has to let go of `volume`: one of its own, deleted while not Bound,
 * still holding {@linkcode PROVISIONER_FINALIZER}, and not to be deleted (Retain: data kept).
 */
export function isReleasable(volume: KubeObject, nodeName: string): boolean {
  return ownedHere(volume, nodeName) && reclaimPolicyOf(volume) !== "Delete" &&
    volume.metadata.deletionTimestamp !== undefined && phaseOf(volume) !== "Bound" &&
    (volume.metadata.finalizers ?? []).includes(PROVISIONER_FINALIZER);
}

/** An absolute path without `.`, `..` or repeated slashes (relative ones from `cwd`). */
export function normalizePath(path: string, cwd = "/"): string {
  const parts: string[] = [];
  for (const part of (path.startsWith("/") ? path : `${cwd}/${path}`).split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * Whether `path` is an entry directly under `root` (a normalised absolute path) whose name
 * starts with `<volume>_`: the only paths the deleter removes.
 */
export function isOwnVolumePath(root: string, path: string, volume: string): boolean {
  if (!path.startsWith(`${root}/`)) return false;
  const base = path.slice(root.length + 1);
  return base !== "" && !base.includes("/") && base !== "." && base !== ".." &&
    volume !== "" && base.startsWith(`${volume}_`);
}

/**
 * The PersistentVolume that the provisioner creates for `claim`: a `local` volume at `path`
 * on `nodeName`, pre-bound to the claim, with the class's reclaim policy.
 */
export function provisionedVolume(
  claim: KubeObject,
  options: { nodeName: string; path: string; storageClass: KubeObject },
): KubeObject {
  const spec = record(claim.spec);
  const requests = record(record(spec.resources).requests);
  const reclaimPolicy = options.storageClass.reclaimPolicy;
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name: provisionedVolumeName(claim.metadata.uid ?? ""),
      annotations: { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER },
      finalizers: [PROVISIONER_FINALIZER],
    },
    spec: {
      capacity: { storage: requests.storage },
      accessModes: Array.isArray(spec.accessModes) ? spec.accessModes : ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: typeof reclaimPolicy === "string" ? reclaimPolicy : "Delete",
      storageClassName: claimClassName(claim),
      volumeMode: "Filesystem",
      local: { path: options.path },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{
            matchExpressions: [{
              key: HOSTNAME_LABEL,
              operator: "In",
              values: [options.nodeName],
            }],
          }],
        },
      },
      claimRef: {
        kind: "PersistentVolumeClaim",
        apiVersion: "v1",
        namespace: claim.metadata.namespace,
        name: claim.metadata.name,
        uid: claim.metadata.uid,
        resourceVersion: claim.metadata.resourceVersion,
      },
    },
  };
}

/** A failure that a retry cannot fix: reported once, not retried. */
class Permanent extends Error {}

/** `work()`, its failure made {@linkcode Permanent}. */
function permanently<T>(work: () => T): T {
  try {
    return work();
  } catch (e) {
    throw new Permanent(errorText(e));
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function ignoreNotFound(work: Promise<void>): Promise<void> {
  await work.catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** See the module documentation. */
export class LocalPathProvisioner {
  readonly #o: LocalPathProvisionerOptions;
  readonly #clock: Clock;
  readonly #root: string;
  readonly #retries: Backoff;
  readonly #queue = new Set<string>();
  readonly #timers = new Map<string, AbortController>();
  readonly #abort = new AbortController();
  readonly #unsubscribe: Array<() => void> = [];
  /** volumes created and not yet seen in the cache: their claims are not provisioned again */
  readonly #expecting = new Set<string>();
  #ready = false;
  #draining: Promise<void> | undefined;
  #starting: Promise<void> | undefined;

  constructor(options: LocalPathProvisionerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#root = normalizePath(`${options.dataDir}/volumes`, Deno.cwd());
    this.#retries = new Backoff(this.#clock, {
      initialMs: options.retryMs ?? 1_000,
      maxMs: MAX_RETRY_MS,
      resetMs: Infinity,
    });
  }

  /** The directory holding the volumes (`<dataDir>/volumes`, absolute). */
  get root(): string {
    return this.#root;
  }

  /** Follow the caches; work starts once all three are synced. */
  start(): void {
    if (this.#starting) return;
    this.#unsubscribe.push(
      this.#o.claims.subscribe((type, claim) => this.#claimChanged(type, claim)),
      this.#o.volumes.subscribe((type, volume) => this.#volumeChanged(type, volume)),
    );
    this.#starting = this.#waitAndQueueAll();
  }

  /** Stop: no new work; resolves when the reconcile under way has finished. */
  async stop(): Promise<void> {
    this.#abort.abort();
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe();
    for (const timer of this.#timers.values()) timer.abort();
    this.#timers.clear();
    this.#queue.clear();
    await this.#starting;
    await this.idle();
  }

  /** Resolves once no key is queued or being reconciled (retries waiting do not count). */
  async idle(): Promise<void> {
    await this.#starting;
    while (this.#draining) await this.#draining;
  }

  async #waitAndQueueAll(): Promise<void> {
    const signal = this.#abort.signal;
    const wait = this.#o.syncWaitMs ?? 30_000;
    const caches = [
      ["PersistentVolumeClaims", this.#o.claims],
      ["PersistentVolumes", this.#o.volumes],
      ["StorageClasses", this.#o.classes],
    ] as const;
    for (const [what, cache] of caches) {
      while (!signal.aborted && !await cache.waitSynced(wait, signal)) {
        console.log(`agent: local-path provisioner: still waiting for the list of ${what}`);
      }
    }
    if (signal.aborted) return;
    for (const claim of this.#o.claims.list()) this.#claimChanged("ADDED", claim);
    for (const volume of this.#o.volumes.list()) this.#volumeChanged("ADDED", volume);
    this.#ready = true;
    this.#kick();
  }

  #claimChanged(type: string, claim: KubeObject): void {
    if (type === "DELETED") {
      this.#expecting.delete(provisionedVolumeName(claim.metadata.uid ?? ""));
      return;
    }
    if (annotation(claim, ANN_SELECTED_NODE) !== this.#o.nodeName) return;
    this.#enqueue(`claim/${claim.metadata.namespace ?? ""}/${claim.metadata.name ?? ""}`);
  }

  #volumeChanged(type: string, volume: KubeObject): void {
    const name = volume.metadata.name ?? "";
    this.#expecting.delete(name);
    const node = this.#o.nodeName;
    if (type !== "DELETED" && (isDeletable(volume, node) || isReleasable(volume, node))) {
      this.#enqueue(`volume/${name}`);
    }
  }

  #enqueue(key: string): void {
    if (this.#abort.signal.aborted) return;
    this.#queue.add(key);
    this.#kick();
  }

  #kick(): void {
    if (!this.#ready || this.#draining || this.#queue.size === 0) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      const key = this.#queue.values().next().value;
      if (key === undefined) return;
      this.#queue.delete(key);
      try {
        await this.#reconcile(key);
        this.#retries.reset(key);
      } catch (e) {
        if (e instanceof Permanent) this.#retries.reset(key);
        else this.#retryLater(key, e);
      }
    }
  }

  #retryLater(key: string, e: unknown): void {
    if (this.#abort.signal.aborted) return;
    this.#retries.next(key, this.#clock.now());
    const ms = this.#retries.remainingSinceUpdate(key);
    console.error(
      `agent: local-path provisioner: ${key} (retry in ${ms / 1000} s): ${errorText(e)}`,
    );
    this.#timers.get(key)?.abort();
    const timer = new AbortController();
    this.#timers.set(key, timer);
    this.#clock.sleep(ms, timer.signal).then(() => {
      if (timer.signal.aborted) return;
      this.#timers.delete(key);
      this.#enqueue(key);
    });
  }

  async #reconcile(key: string): Promise<void> {
    const [kind, ...rest] = key.split("/");
    if (kind === "claim") await this.#syncClaim(rest[0] ?? "", rest[1] ?? "");
    else await this.#syncVolume(rest[0] ?? "");
  }

  #event(obj: KubeObject, kind: string, reason: string, type: EventType, message: string): void {
    this.#o.events?.({ ...obj, apiVersion: "v1", kind }, reason, type, message);
  }

  async #syncClaim(namespace: string, name: string): Promise<void> {
    const cached = this.#o.claims.get(namespace, name);
    if (!cached || !isProvisioningRequest(cached, this.#o.nodeName)) return;
    const volumeName = provisionedVolumeName(cached.metadata.uid ?? "");
    if (this.#expecting.has(volumeName) || this.#o.volumes.get("", volumeName)) return;
    const path = `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${name}`;
    const claim = await this.#o.client.get(path);
    if (!claim || !isProvisioningRequest(claim, this.#o.nodeName)) return;
    await this.#provision(claim);
  }

  async #provision(claim: KubeObject): Promise<void> {
    const className = claimClassName(claim);
    try {
      await this.#provisionNow(claim, className);
    } catch (e) {
      const message = `failed to provision volume with StorageClass "${className}": ${
        errorText(e)
      }`;
      this.#event(claim, "PersistentVolumeClaim", "ProvisioningFailed", "Warning", message);
      throw e;
    }
  }

  async #provisionNow(claim: KubeObject, className: string): Promise<void> {
    const dirName = permanently(() => volumeDirName(claim));
    const storageClass = this.#o.classes.get("", className);
    if (!storageClass) throw new Error(`storageclass.storage.k8s.io "${className}" not found`);
    if (storageClass.provisioner !== LOCAL_PATH_PROVISIONER) return;
    const spec = record(claim.spec);
    if (spec.selector !== undefined && spec.selector !== null) {
      throw new Permanent("claim Selector is not supported");
    }
    if (spec.volumeMode === "Block") {
      throw new Permanent("local-path volumes are Filesystem volumes, not Block");
    }
    const storage = record(record(spec.resources).requests).storage;
    if (typeof storage !== "string" && typeof storage !== "number") {
      throw new Permanent("claim has no storage request");
    }
    const { namespace = "", name = "", uid = "" } = claim.metadata;
    this.#event(
      claim,
      "PersistentVolumeClaim",
      "Provisioning",
      "Normal",
      `External provisioner is provisioning volume for claim "${namespace}/${name}"`,
    );
    const dir = `${this.#root}/${dirName}`;
    const volume = provisionedVolume(claim, {
      nodeName: this.#o.nodeName,
      path: dir,
      storageClass,
    });
    const volumeName = volume.metadata.name ?? "";
    await this.#makeDirectory(dir, {
      volume: volumeName,
      claim: { namespace, name, uid },
      storageClass: className,
      capacity: String(storage),
      node: this.#o.nodeName,
      created: new Date(this.#clock.now()).toISOString(),
    });
    try {
      await this.#o.client.create("/api/v1/persistentvolumes", volume);
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === "AlreadyExists")) throw e;
    }
    this.#expecting.add(volumeName);
    this.#event(
      claim,
      "PersistentVolumeClaim",
      "ProvisioningSucceeded",
      "Normal",
      `Successfully provisioned volume ${volumeName}`,
    );
  }

  /** The volume's directory (mode 0777) and, unless kept from an earlier try, its record. */
  async #makeDirectory(dir: string, rec: VolumeRecord): Promise<void> {
    await Deno.mkdir(this.#root, { recursive: true, mode: 0o755 });
    await Deno.mkdir(dir, { mode: 0o777 }).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
    const info = await Deno.lstat(dir);
    if (!info.isDirectory) throw new Error(`${dir} exists and is not a directory`);
    await Deno.chmod(dir, 0o777);
    const file = `${dir}.json`;
    if (await Deno.lstat(file).then(() => true, () => false)) return;
    const tmp = `${file}.tmp`;
    await Deno.writeTextFile(tmp, `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o644 });
    await Deno.rename(tmp, file);
  }

  async #syncVolume(name: string): Promise<void> {
    const node = this.#o.nodeName;
    const cached = this.#o.volumes.get("", name);
    if (!cached || !(isDeletable(cached, node) || isReleasable(cached, node))) return;
    const path = `/api/v1/persistentvolumes/${name}`;
    const volume = await this.#o.client.get(path);
    if (!volume) return;
    if (isReleasable(volume, node)) {
      await this.#letGo(path, volume);
      return;
    }
    if (!isDeletable(volume, node)) return;
    try {
      const dir = volumeHostPath(volume) ?? "";
      if (!isOwnVolumePath(this.#root, dir, name)) {
        throw new Permanent(
          `refusing to delete "${dir}": not a volume directory of ${name} directly under ` +
            this.#root,
        );
      }
      await ignoreNotFound(Deno.remove(dir, { recursive: true }));
      await ignoreNotFound(Deno.remove(`${dir}.json`));
      const current = await this.#letGo(path, volume);
      if (current && !current.metadata.deletionTimestamp) {
        await this.#o.client.delete(path, { preconditions: { uid: volume.metadata.uid } });
      }
    } catch (e) {
      this.#event(volume, "PersistentVolume", "VolumeFailedDelete", "Warning", errorText(e));
      throw e;
    }
  }

  /** Remove {@linkcode PROVISIONER_FINALIZER} from `volume`; the volume as stored after. */
  async #letGo(path: string, volume: KubeObject): Promise<KubeObject | undefined> {
    const finalizers = volume.metadata.finalizers ?? [];
    if (!finalizers.includes(PROVISIONER_FINALIZER)) return volume;
    const next = structuredClone(volume);
    next.metadata.finalizers = finalizers.filter((f) => f !== PROVISIONER_FINALIZER);
    try {
      return await this.#o.client.update(path, next);
    } catch (e) {
      // the last finalizer of a deleted volume: it is gone now
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }
}
