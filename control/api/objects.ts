/**
 * `Objects`: what kube-apiserver's generic registry does between a request and the store —
 * defaults and validation, uid/timestamps/generation, resourceVersion preconditions, status
 * subresource rules, graceful deletion with finalizers. HTTP lives in `app.ts`; this module
 * only deals in objects and `ApiError`s.
 *
 * @module
 */

import { cloneJson, isPlainObject, type KubeObject } from "../../storage/object.ts";
import { type ResourceType, storeKey } from "../../storage/resource.ts";
import { ApiError, invalidValue, type StatusCause } from "../../storage/status.ts";
import { type Store, StoreError } from "../../storage/store.ts";
import { validateObject } from "../../storage/validation.ts";
import { applyPatch } from "../patch/mod.ts";

/** How unknown fields are treated (the `fieldValidation` query parameter). */
export type FieldValidation = "Strict" | "Warn" | "Ignore";

/** Options shared by writes. */
export interface WriteOptions {
  fieldValidation: FieldValidation;
  dryRun: boolean;
}

/** A write's result plus the warnings to send back (`Warning:` headers). */
export interface WriteResult {
  object: KubeObject;
  warnings: string[];
}

/** metav1.DeleteOptions (the parts we honour). */
export interface DeleteOptions {
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun: boolean;
}

/** Result of a delete: the object is gone, or it is waiting for finalizers. */
export interface DeleteResult {
  deleted: boolean;
  object: KubeObject;
}

/**
 * Told the outcome of an admitted write: the object as stored, or `undefined` when nothing was
 * written (the write failed, or it was a dry run).
 */
export type AdmissionDone = (stored: KubeObject | undefined) => void;

/**
 * What one resource's writes go through besides validation, as kube-apiserver's registry hooks
 * (`BeginCreate`/`BeginUpdate`): the Service IP and node port allocator is one. Register it per
 * store with {@linkcode registerAdmission}; every `Objects` over that store then uses it, so
 * API requests and in-process writers alike go through it. Every hook is optional.
 */
export interface Admission {
  /**
   * Before an update is validated (not a status update): fix up the raw body from the stored
   * object, as kube's `PrepareForUpdate` (e.g. keep values the client left out).
   */
  prepareUpdate?(old: KubeObject, input: Record<string, unknown>): void;
  /**
   * After validation, before the store write of a create: fill in or check `obj` (it may be
   * changed; an `ApiError` refuses the write). The returned callback is told the outcome.
   */
  beforeCreate?(obj: KubeObject, dryRun: boolean): Promise<AdmissionDone>;
  /** As {@linkcode Admission.beforeCreate}, for an update of `old` into `next`. */
  beforeUpdate?(old: KubeObject, next: KubeObject, dryRun: boolean): Promise<AdmissionDone>;
}

const ADMISSIONS = new WeakMap<Store, Map<string, Admission>>();

function admissionKey(rt: ResourceType): string {
  return `${rt.group}/${rt.plural}`;
}

/**
 * Make every {@linkcode Objects} over `store` put writes of `rt` through `admission`
 * (one per resource type and store). Returns the function that removes it again.
 */
export function registerAdmission(
  store: Store,
  rt: ResourceType,
  admission: Admission,
): () => void {
  let byType = ADMISSIONS.get(store);
  if (!byType) ADMISSIONS.set(store, byType = new Map());
  const key = admissionKey(rt);
  if (byType.has(key)) throw new Error(`Cannot register a second admission for ${rt.plural}`);
  byType.set(key, admission);
  return () => {
    if (byType.get(key) === admission) byType.delete(key);
  };
}

function admissionFor(store: Store, rt: ResourceType): Admission | undefined {
  return ADMISSIONS.get(store)?.get(admissionKey(rt));
}

const GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
/** The longest `generateName` kept: 63 minus the 5 random characters. */
const MAX_GENERATED_BASE = 58;
const MAX_PATCH_RETRIES = 5;

/** Kubernetes timestamps: RFC 3339, seconds precision, UTC. */
export function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function randomSuffix(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return [...bytes].map((b) => GENERATE_NAME_ALPHABET[b % GENERATE_NAME_ALPHABET.length]).join(
    "",
  );
}

function refOf(rt: ResourceType) {
  return { group: rt.group, resource: rt.plural, kind: rt.kind };
}

/** Everything but metadata and status: what a generation bump compares (key order aside). */
function specPart(rt: ResourceType, obj: KubeObject): Record<string, unknown> {
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === "metadata" || k === "apiVersion" || k === "kind") continue;
    if (rt.statusFields.includes(k)) continue;
    rest[k] = v;
  }
  return rest;
}

/** The resource-level object service used by the HTTP handlers and in-process controllers. */
export class Objects {
  constructor(
    readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Map a store failure to the API error a Kubernetes client expects. */
  storeFailure(rt: ResourceType, name: string, e: unknown): never {
    if (e instanceof StoreError) {
      const ref = refOf(rt);
      switch (e.code) {
        case "NotFound":
          throw ApiError.notFound(ref, name);
        case "AlreadyExists":
          throw ApiError.alreadyExists(ref, name);
        case "Conflict":
          throw ApiError.conflict(
            ref,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
          );
        case "Expired":
          throw ApiError.expired(e.message);
        case "TooLarge":
          throw new ApiError("RequestEntityTooLarge", e.message);
      }
    }
    throw e;
  }

  /** The object, or 404. */
  async get(rt: ResourceType, namespace: string | undefined, name: string): Promise<KubeObject> {
    const obj = await this.store.get(storeKey(rt, namespace, name));
    if (!obj) throw ApiError.notFound(refOf(rt), name);
    return obj;
  }

  /** Ensure the namespace exists and accepts new objects. */
  private async checkNamespaceOpen(namespace: string): Promise<void> {
    const ns = await this.store.get(`/core/namespaces/${namespace}`);
    if (!ns) throw ApiError.notFound({ group: "", resource: "namespaces" }, namespace);
    if (ns.metadata.deletionTimestamp) {
      throw new ApiError(
        "Forbidden",
        `unable to create new content in namespace ${namespace} because it is being terminated`,
        { name: namespace, kind: "namespaces" },
      );
    }
  }

  /** Validate `input` for `rt`, reconciling its namespace with the one in the URL. */
  private validate(
    rt: ResourceType,
    namespace: string | undefined,
    input: unknown,
    options: WriteOptions & { binding?: boolean },
    old?: KubeObject,
  ): WriteResult {
    if (rt.namespaced && isPlainObject(input) && isPlainObject(input.metadata)) {
      const meta = input.metadata;
      if (meta.namespace === undefined || meta.namespace === "") {
        meta.namespace = namespace;
      } else if (namespace !== undefined && meta.namespace !== namespace) {
        throw ApiError.badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
    }
    const outcome = validateObject(rt, input, {
      fieldValidation: options.fieldValidation,
      // a binding sets spec.nodeName, which no update may: as apiserver's binding storage, it
      // skips the kind's update rules
      ...(old && !options.binding ? { old } : {}),
    });
    const obj = outcome.object;
    if (rt.namespaced) {
      obj.metadata.namespace = namespace ?? obj.metadata.namespace;
      if (!obj.metadata.namespace) {
        throw ApiError.badRequest("the namespace of the object is required");
      }
    } else {
      delete obj.metadata.namespace;
    }
    return { object: obj, warnings: outcome.warnings };
  }

  /** POST: create a new object. */
  async create(
    rt: ResourceType,
    namespace: string | undefined,
    input: unknown,
    options: WriteOptions,
  ): Promise<WriteResult> {
    // as apiserver's FillObjectMetaSystemFields: the uid exists before the kind's create-time
    // defaults (a Job's generated selector) and validation run
    const uid = crypto.randomUUID();
    if (isPlainObject(input) && isPlainObject(input.metadata)) {
      const meta = input.metadata;
      if (!meta.name && typeof meta.generateName === "string" && meta.generateName) {
        // as apiserver's name generator: the base is cut so the name fits 63 characters
        meta.name = `${meta.generateName.slice(0, MAX_GENERATED_BASE)}${randomSuffix()}`;
      }
      meta.uid = uid;
    }
    const { object: obj, warnings } = this.validate(rt, namespace, input, options);
    const meta = obj.metadata;
    const name = meta.name!;
    if (rt.namespaced) await this.checkNamespaceOpen(meta.namespace!);
    meta.uid = uid;
    meta.creationTimestamp = timestamp(this.now());
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    if (rt.tracksGeneration) meta.generation = 1;
    else delete meta.generation;
    const done = await admissionFor(this.store, rt)?.beforeCreate?.(obj, options.dryRun);
    let stored: KubeObject | undefined;
    try {
      if (options.dryRun) {
        const existing = await this.store.get(storeKey(rt, meta.namespace, name));
        if (existing) throw ApiError.alreadyExists(refOf(rt), name);
        return { object: obj, warnings };
      }
      stored = await this.store.create(storeKey(rt, meta.namespace, name), obj);
      return { object: stored, warnings };
    } catch (e) {
      return this.storeFailure(rt, name, e);
    } finally {
      done?.(stored);
    }
  }

  /**
   * PUT: replace an object (or only its status fields for the `status` subresource).
   * A resourceVersion in the body is a precondition; without one the update is unconditional.
   */
  async update(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    input: unknown,
    options: WriteOptions & {
      subresource?: "status";
      /** in-process callers only (binding, the volume binder): write spec and status together */
      allowStatus?: boolean;
      /** in-process: `pods/{name}/binding` (spec.nodeName may be set, as no update may) */
      binding?: boolean;
    },
  ): Promise<WriteResult> {
    if (isPlainObject(input) && isPlainObject(input.metadata)) {
      const bodyName = input.metadata.name;
      if (bodyName !== undefined && bodyName !== name) {
        throw ApiError.badRequest(
          `the name of the object (${
            String(bodyName)
          }) does not match the name on the URL (${name})`,
        );
      }
      if (bodyName === undefined) input.metadata.name = name;
    }
    const admission = admissionFor(this.store, rt);
    for (let attempt = 0;; attempt++) {
      const old = await this.get(rt, namespace, name);
      const body = options.subresource === "status"
        ? statusUpdateBody(rt, old, input)
        : admission
        ? cloneJson(input)
        : input;
      if (admission?.prepareUpdate && !options.subresource && isPlainObject(body)) {
        admission.prepareUpdate(old, body);
      }
      // a stale resourceVersion is a Conflict before it is anything else (as kube's
      // GuaranteedUpdate checks it before the strategy validates)
      const pinnedTo = isPlainObject(body) && isPlainObject(body.metadata)
        ? body.metadata.resourceVersion
        : undefined;
      if (
        typeof pinnedTo === "string" && /^[1-9][0-9]{0,14}$/.test(pinnedTo) &&
        pinnedTo !== old.metadata.resourceVersion
      ) {
        this.storeFailure(rt, name, new StoreError("Conflict", storeKey(rt, namespace, name)));
      }
      const { object: candidate, warnings } = this.validate(rt, namespace, body, options, old);
      const given = candidate.metadata.resourceVersion;
      const unconditional = given === undefined || given === "";
      // An admission decides against `old` (e.g. which IPs the object already holds): without a
      // resourceVersion from the client, the write is pinned to `old` and retried on a race.
      const expected = unconditional && admission ? old.metadata.resourceVersion : given;
      const next = this.merge(
        rt,
        old,
        candidate,
        options.allowStatus ? "all" : options.subresource,
      );
      try {
        return {
          object: await this.commitUpdate(rt, name, old, next, expected, options),
          warnings,
        };
      } catch (e) {
        const retry = unconditional && admission !== undefined && e instanceof ApiError &&
          e.reason === "Conflict" && attempt < MAX_PATCH_RETRIES;
        if (!retry) throw e;
      }
    }
  }

  /**
   * PATCH: apply a JSON, merge or strategic-merge patch to the current object and store the
   * result, retrying on a concurrent write unless the patch itself pins a resourceVersion.
   */
  async patch(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    contentType: string,
    patchBody: unknown,
    options: WriteOptions & { subresource?: "status" },
  ): Promise<WriteResult> {
    for (let attempt = 0;; attempt++) {
      const old = await this.get(rt, namespace, name);
      const patched = applyPatch(contentType, cloneJson(old), patchBody, old.apiVersion, old.kind);
      if (!isPlainObject(patched)) {
        throw ApiError.badRequest(
          "the patch turned the object into something that is not an object",
        );
      }
      const pinned = isPlainObject(patched.metadata) &&
        patched.metadata.resourceVersion !== old.metadata.resourceVersion;
      if (!options.subresource) admissionFor(this.store, rt)?.prepareUpdate?.(old, patched);
      // as a status PUT: a status patch is validated with the stored spec, whatever it patched
      const body = options.subresource === "status" ? statusUpdateBody(rt, old, patched) : patched;
      const { object: candidate, warnings } = this.validate(rt, namespace, body, options, old);
      if (candidate.metadata.name !== name) {
        throw ApiError.badRequest(
          `the name of the object (${candidate.metadata.name}) does not match the name on the URL (${name})`,
        );
      }
      const expected = pinned ? candidate.metadata.resourceVersion : old.metadata.resourceVersion;
      const next = this.merge(rt, old, candidate, options.subresource);
      try {
        return {
          object: await this.commitUpdate(rt, name, old, next, expected, options),
          warnings,
        };
      } catch (e) {
        const retry = !pinned && e instanceof ApiError && e.reason === "Conflict" &&
          attempt < MAX_PATCH_RETRIES;
        if (!retry) throw e;
      }
    }
  }

  /** Combine the stored object with a validated candidate per the subresource rules. */
  private merge(
    rt: ResourceType,
    old: KubeObject,
    candidate: KubeObject,
    subresource: "status" | "all" | undefined,
  ): KubeObject {
    if (subresource === "status") {
      const next = cloneJson(old);
      for (const f of rt.statusFields) {
        if (candidate[f] === undefined) delete next[f];
        else next[f] = candidate[f];
      }
      return next;
    }
    const next = candidate;
    for (const f of subresource === "all" ? [] : rt.statusFields) {
      if (old[f] === undefined) delete next[f];
      else next[f] = cloneJson(old[f]);
    }
    const meta = next.metadata;
    const oldMeta = old.metadata;
    meta.uid = oldMeta.uid!;
    meta.creationTimestamp = oldMeta.creationTimestamp!;
    if (oldMeta.deletionTimestamp) {
      meta.deletionTimestamp = oldMeta.deletionTimestamp;
      if (oldMeta.deletionGracePeriodSeconds !== undefined) {
        meta.deletionGracePeriodSeconds = oldMeta.deletionGracePeriodSeconds;
      }
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    if (rt.tracksGeneration) {
      const gen = oldMeta.generation ?? 1;
      meta.generation = sameJson(specPart(rt, old), specPart(rt, next)) ? gen : gen + 1;
    } else {
      delete meta.generation;
    }
    return next;
  }

  private async commitUpdate(
    rt: ResourceType,
    name: string,
    old: KubeObject,
    next: KubeObject,
    expectedVersion: string | undefined,
    options: WriteOptions,
  ): Promise<KubeObject> {
    const causes = this.updateRules(rt, old, next);
    if (causes.length > 0) throw ApiError.invalid(refOf(rt), name, causes);
    let expected: number | undefined;
    if (expectedVersion !== undefined && expectedVersion !== "") {
      if (!/^\d{1,15}$/.test(expectedVersion)) {
        throw ApiError.badRequest(
          `metadata.resourceVersion: Invalid value: ${
            JSON.stringify(expectedVersion)
          }: must be a resourceVersion this server returned`,
        );
      }
      expected = Number(expectedVersion);
    }
    const key = storeKey(rt, old.metadata.namespace, name);
    // Kubernetes' ShouldDeleteDuringUpdate: an object being deleted goes once its finalizers
    // are empty and its grace period is over (0); a pod in graceful termination stays.
    const finalizing = next.metadata.deletionTimestamp !== undefined &&
      (next.metadata.finalizers ?? []).length === 0 &&
      (old.metadata.deletionGracePeriodSeconds ?? 0) === 0 &&
      (rt.kind !== "Namespace" || namespaceSpecFinalizers(next).length === 0);
    const admission = finalizing ? undefined : admissionFor(this.store, rt);
    const done = await admission?.beforeUpdate?.(old, next, options.dryRun);
    let stored: KubeObject | undefined;
    try {
      if (options.dryRun) {
        if (expected !== undefined && String(expected) !== old.metadata.resourceVersion) {
          this.storeFailure(rt, name, new StoreError("Conflict", key));
        }
        return next;
      }
      if (finalizing) {
        return await this.store.delete(key, expected ?? Number(old.metadata.resourceVersion));
      }
      const unchanged = sameJson(
        { ...next, metadata: { ...next.metadata, resourceVersion: undefined } },
        { ...old, metadata: { ...old.metadata, resourceVersion: undefined } },
      );
      if (
        unchanged && (expected === undefined || String(expected) === old.metadata.resourceVersion)
      ) {
        return stored = old;
      }
      return stored = await this.store.update(key, next, expected);
    } catch (e) {
      return this.storeFailure(rt, name, e);
    } finally {
      done?.(stored);
    }
  }

  /**
   * A pod running on a node is deleted gracefully: it gets deletionTimestamp and a grace
   * period, its node agent stops the containers, then deletes it with grace 0. Unbound pods,
   * grace 0 (`--force --grace-period=0`) and the agent's final delete go at once.
   */
  private gracefulPodDeletion(rt: ResourceType, pod: KubeObject, options: DeleteOptions): boolean {
    if (rt.kind !== "Pod" || options.gracePeriodSeconds === 0) return false;
    return podGraceSeconds(pod) > 0;
  }

  /** A repeated delete may only shorten a pod's grace period, never lengthen it. */
  private shortensGrace(old: KubeObject, options: DeleteOptions): boolean {
    const current = old.metadata.deletionGracePeriodSeconds;
    return options.gracePeriodSeconds !== undefined && current !== undefined &&
      options.gracePeriodSeconds < current;
  }

  /** Rules that compare old and new: immutability and finalizers during deletion. */
  private updateRules(rt: ResourceType, old: KubeObject, next: KubeObject): StatusCause[] {
    const causes: StatusCause[] = [];
    if (old.immutable === true) {
      for (const field of ["data", "binaryData"]) {
        if (JSON.stringify(old[field] ?? null) !== JSON.stringify(next[field] ?? null)) {
          causes.push({
            reason: "FieldValueForbidden",
            field,
            message: "Forbidden: field is immutable when `immutable` is set",
          });
        }
      }
      if (next.immutable !== true) {
        causes.push({
          reason: "FieldValueForbidden",
          field: "immutable",
          message: "Forbidden: field is immutable when `immutable` is set",
        });
      }
    }
    if (old.metadata.deletionTimestamp) {
      const before = new Set(old.metadata.finalizers ?? []);
      const added = (next.metadata.finalizers ?? []).filter((f) => !before.has(f));
      if (added.length > 0) {
        causes.push({
          reason: "FieldValueForbidden",
          field: "metadata.finalizers",
          message:
            "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers " +
            JSON.stringify(added),
        });
      }
    }
    if (rt.kind === "Namespace" && next.metadata.name !== old.metadata.name) {
      causes.push(invalidValue("metadata.name", next.metadata.name, "field is immutable"));
    }
    return causes;
  }

  /**
   * DELETE: remove the object, or mark it with deletionTimestamp while finalizers remain.
   * Foreground and Orphan propagation add their finalizers (the garbage collector acts on them).
   */
  async delete(
    rt: ResourceType,
    namespace: string | undefined,
    name: string,
    options: DeleteOptions,
  ): Promise<DeleteResult> {
    for (let attempt = 0;; attempt++) {
      const old = await this.get(rt, namespace, name);
      const pre = options.preconditions;
      if (pre?.uid && pre.uid !== old.metadata.uid) {
        throw ApiError.conflict(
          refOf(rt),
          name,
          `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
        );
      }
      if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
        throw ApiError.conflict(
          refOf(rt),
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
        );
      }
      const finalizers = new Set(old.metadata.finalizers ?? []);
      if (options.propagationPolicy === "Foreground") finalizers.add("foregroundDeletion");
      if (options.propagationPolicy === "Orphan") finalizers.add("orphan");
      const key = storeKey(rt, old.metadata.namespace, name);
      const expected = Number(old.metadata.resourceVersion);
      const blocked = finalizers.size > 0 ||
        (rt.kind === "Namespace" && namespaceSpecFinalizers(old).length > 0) ||
        this.gracefulPodDeletion(rt, old, options);
      try {
        if (!blocked) {
          if (options.dryRun) return { deleted: true, object: old };
          return { deleted: true, object: await this.store.delete(key, expected) };
        }
        if (
          old.metadata.deletionTimestamp && sameSet(finalizers, old.metadata.finalizers) &&
          !this.shortensGrace(old, options)
        ) {
          return { deleted: false, object: old };
        }
        const next = cloneJson(old);
        if (finalizers.size > 0) next.metadata.finalizers = [...finalizers];
        if (this.shortensGrace(old, options)) {
          next.metadata.deletionGracePeriodSeconds = options.gracePeriodSeconds!;
        }
        next.metadata.deletionTimestamp ??= timestamp(this.now());
        next.metadata.deletionGracePeriodSeconds ??= options.gracePeriodSeconds ??
          (rt.kind === "Pod" ? podGraceSeconds(old) : 0);
        if (rt.kind === "Namespace") {
          next.status = {
            ...(isPlainObject(next.status) ? next.status : {}),
            phase: "Terminating",
          };
        }
        if (options.dryRun) return { deleted: false, object: next };
        return { deleted: false, object: await this.store.update(key, next, expected) };
      } catch (e) {
        if (e instanceof StoreError && e.code === "Conflict" && attempt < MAX_PATCH_RETRIES) {
          continue;
        }
        this.storeFailure(rt, name, e);
      }
    }
  }
}

/** A pod's own termination grace period (spec.terminationGracePeriodSeconds, default 30). */
/**
 * The grace period a pod's deletion gets (kube's pod strategy `CheckGracefulDelete`): none for a
 * pod no node runs (not scheduled, or Succeeded/Failed), else its terminationGracePeriodSeconds.
 */
function podGraceSeconds(pod: KubeObject): number {
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  const status = isPlainObject(pod.status) ? pod.status : {};
  const scheduled = typeof spec.nodeName === "string" && spec.nodeName !== "";
  if (!scheduled || status.phase === "Succeeded" || status.phase === "Failed") return 0;
  const grace = spec.terminationGracePeriodSeconds;
  return typeof grace === "number" && grace >= 0 ? grace : 30;
}

/** `spec.finalizers` of a Namespace (the namespace controller's "kubernetes" finalizer). */
export function namespaceSpecFinalizers(ns: KubeObject): string[] {
  const spec = isPlainObject(ns.spec) ? ns.spec : {};
  return Array.isArray(spec.finalizers) ? spec.finalizers.filter((f) => typeof f === "string") : [];
}

/**
 * The object a status update writes, before validation: the stored object with the status
 * fields of `input`, so a writer holding an older spec is not judged by it (as kube-apiserver's
 * status strategy keeps everything but status). The body's resourceVersion stays the
 * precondition.
 */
function statusUpdateBody(rt: ResourceType, old: KubeObject, input: unknown): unknown {
  if (!isPlainObject(input)) return input;
  const next: Record<string, unknown> = cloneJson(old);
  for (const f of rt.statusFields) {
    if (input[f] === undefined) delete next[f];
    else next[f] = cloneJson(input[f]);
  }
  const meta = { ...old.metadata } as Record<string, unknown>;
  const given = isPlainObject(input.metadata) ? input.metadata.resourceVersion : undefined;
  if (given === undefined) delete meta.resourceVersion;
  else meta.resourceVersion = given;
  next.metadata = meta;
  return next;
}

/** Deep equality of JSON values, ignoring object key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => sameJson(a[k], b[k]));
  }
  return false;
}

function sameSet(a: Set<string>, b: string[] | undefined): boolean {
  const other = new Set(b ?? []);
  return a.size === other.size && [...a].every((x) => other.has(x));
}
