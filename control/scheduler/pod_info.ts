/**
 * `PodInfo`: what the scheduler needs of one pod, parsed once per pod object (kube-scheduler's
 * `framework.PodInfo`): effective resource requests, host ports, tolerations, node and pod
 * affinity terms with their selectors already parsed, owner, images and the claims its volumes
 * name.
 *
 * Requests follow `resourcehelper.PodRequests`: the sum of the containers' requests plus the
 * restartable (sidecar) init containers', or the largest init container's step if that is
 * more, plus `spec.overhead`. The "non-zero" requests used for scoring count a container
 * that requests no cpu as 100m and no memory as 200Mi, as kube-scheduler does.
 *
 * @module
 */

import type { Pod } from "../../storage/kinds/pod.ts";
import {
  type LabelSelector,
  labelSelectorFromSpec,
  type LabelSelectorSpec,
  matchesLabelSelector,
} from "../../storage/labels.ts";
import type { KubeObject } from "../../storage/object.ts";
import { podClaimNames } from "../../storage/persistent_volumes.ts";
import { milliValue, wholeValue } from "../../storage/quantity.ts";

type PodSpec = Pod["spec"];
type Container = PodSpec["containers"][number];

/** cpu a container without a cpu request counts as when scoring (millicores). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
/** memory a container without a memory request counts as when scoring (bytes). */
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

/** Resource amounts: cpu in millicores, memory in bytes, other resources in whole units. */
export interface Resources {
  milliCpu: number;
  memory: number;
  /** ephemeral-storage and extended resources (`nvidia.com/gpu`, …) */
  scalars: Map<string, number>;
}

/** A host port a pod uses: `hostIP` is `0.0.0.0` when the port listens on every address. */
export interface HostPort {
  hostIP: string;
  protocol: string;
  port: number;
}

/** core/v1 Toleration */
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

/** A required pod (anti-)affinity term with its selectors parsed (`framework.AffinityTerm`). */
export interface AffinityTerm {
  selector: LabelSelector;
  /** namespaces named by the term (the pod's own when neither these nor a selector is given) */
  namespaces: ReadonlySet<string>;
  /** selects namespaces by their labels; `undefined` selects none */
  namespaceSelector: LabelSelector | undefined;
  topologyKey: string;
}

/** A preferred pod (anti-)affinity term with its weight (1–100). */
export interface WeightedAffinityTerm extends AffinityTerm {
  weight: number;
}

/** One requirement of a node selector term (`NodeSelectorRequirement`). */
export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

/** One node selector term: its expressions and fields must all hold. */
export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

/** What the scheduler knows of one pod. */
export interface PodInfo {
  /** `namespace/name` */
  key: string;
  uid: string;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** `spec.nodeName`, "" when unbound */
  nodeName: string;
  requests: Resources;
  /** requests with container defaults, for scoring */
  nonZeroRequests: { milliCpu: number; memory: number };
  hostPorts: HostPort[];
  tolerations: Toleration[];
  nodeSelector: Record<string, string>;
  /** required node affinity terms (ORed), `undefined` when there are none */
  requiredNodeTerms: NodeSelectorTerm[] | undefined;
  preferredNodeTerms: { weight: number; preference: NodeSelectorTerm }[];
  requiredAffinity: AffinityTerm[];
  requiredAntiAffinity: AffinityTerm[];
  preferredAffinity: WeightedAffinityTerm[];
  preferredAntiAffinity: WeightedAffinityTerm[];
  /** uid of the controller owner (ReplicaSet, …), for spreading */
  ownerUid: string | undefined;
  /** the containers' images, normalized (`nginx` → `nginx:latest`) */
  images: string[];
  /** true when the pod has any pod affinity or anti-affinity term */
  hasAffinity: boolean;
  /** the PersistentVolumeClaims its volumes name (in its namespace), in spec order */
  claims: string[];
}

/** `nginx` → `nginx:latest`; names with a tag or digest stay as they are (`normalizedImageName`). */
export function normalizedImageName(name: string): string {
  return name.lastIndexOf(":") <= name.lastIndexOf("/") ? `${name}:latest` : name;
}

function emptyResources(): Resources {
  return { milliCpu: 0, memory: 0, scalars: new Map() };
}

function containerRequests(c: Container, nonZero: boolean): Resources {
  const r = emptyResources();
  const requests = c.resources?.requests ?? {};
  for (const [name, q] of Object.entries(requests)) {
    if (name === "cpu") r.milliCpu = milliValue(q);
    else if (name === "memory") r.memory = wholeValue(q);
    else if (!nonZero) r.scalars.set(name, wholeValue(q));
  }
  if (nonZero) {
    if (!("cpu" in requests)) r.milliCpu = DEFAULT_MILLI_CPU_REQUEST;
    if (!("memory" in requests)) r.memory = DEFAULT_MEMORY_REQUEST;
  }
  return r;
}

function add(into: Resources, r: Resources): void {
  into.milliCpu += r.milliCpu;
  into.memory += r.memory;
  for (const [k, v] of r.scalars) into.scalars.set(k, (into.scalars.get(k) ?? 0) + v);
}

function max(into: Resources, r: Resources): void {
  into.milliCpu = Math.max(into.milliCpu, r.milliCpu);
  into.memory = Math.max(into.memory, r.memory);
  for (const [k, v] of r.scalars) into.scalars.set(k, Math.max(into.scalars.get(k) ?? 0, v));
}

function copy(r: Resources): Resources {
  return { milliCpu: r.milliCpu, memory: r.memory, scalars: new Map(r.scalars) };
}

/** The effective requests of a pod spec (`resourcehelper.PodRequests`). */
export function podRequests(spec: PodSpec, nonZero = false): Resources {
  const total = emptyResources();
  for (const c of spec.containers ?? []) add(total, containerRequests(c, nonZero));
  const sidecars = emptyResources();
  const initMax = emptyResources();
  for (const c of spec.initContainers ?? []) {
    const r = containerRequests(c, nonZero);
    if (c.restartPolicy === "Always") {
      add(sidecars, r);
      max(initMax, sidecars);
    } else {
      const step = copy(r);
      add(step, sidecars);
      max(initMax, step);
    }
  }
  add(total, sidecars);
  max(total, initMax);
  if (!nonZero) {
    const overhead = spec.overhead ?? {};
    add(total, containerRequests({ resources: { requests: overhead } } as Container, false));
  }
  return total;
}

function hostPorts(spec: PodSpec): HostPort[] {
  const ports: HostPort[] = [];
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      const port = p.hostPort || (spec.hostNetwork ? p.containerPort : 0);
      if (!port) continue;
      ports.push({ hostIP: p.hostIP || "0.0.0.0", protocol: p.protocol || "TCP", port });
    }
  }
  return ports;
}

function selectorOf(spec: LabelSelectorSpec | undefined): LabelSelector {
  try {
    return labelSelectorFromSpec(spec);
  } catch {
    return { requirements: [], nothing: true };
  }
}

interface AffinityTermSpec {
  labelSelector?: LabelSelectorSpec;
  namespaceSelector?: LabelSelectorSpec;
  namespaces?: string[];
  topologyKey: string;
}

function affinityTerm(t: AffinityTermSpec, namespace: string): AffinityTerm {
  const namespaces = t.namespaces ?? [];
  return {
    selector: selectorOf(t.labelSelector),
    namespaces: new Set(
      namespaces.length === 0 && t.namespaceSelector === undefined ? [namespace] : namespaces,
    ),
    namespaceSelector: t.namespaceSelector === undefined
      ? undefined
      : selectorOf(t.namespaceSelector),
    topologyKey: t.topologyKey,
  };
}

/**
 * True when `term` selects `pod`: the pod is in one of the term's namespaces (or one its
 * namespace selector picks, given the namespace's labels) and its labels match.
 */
export function termMatches(
  term: AffinityTerm,
  pod: Pick<PodInfo, "namespace" | "labels">,
  namespaceLabels: Record<string, string> | undefined,
): boolean {
  const inNamespace = term.namespaces.has(pod.namespace) ||
    (term.namespaceSelector !== undefined &&
      matchesLabelSelector(term.namespaceSelector, namespaceLabels));
  return inNamespace && matchesLabelSelector(term.selector, pod.labels);
}

/** Parse a Pod object into a {@linkcode PodInfo}. */
export function podInfo(obj: KubeObject): PodInfo {
  const pod = obj as unknown as Pod;
  const spec: PodSpec = pod.spec ?? { containers: [] };
  const meta = obj.metadata;
  const namespace = meta.namespace ?? "";
  const affinity = spec.affinity;
  const terms = (list: AffinityTermSpec[] | undefined) =>
    (list ?? []).map((t) => affinityTerm(t, namespace));
  const weighted = (list: { weight: number; podAffinityTerm: AffinityTermSpec }[] | undefined) =>
    (list ?? []).map((w) => ({ ...affinityTerm(w.podAffinityTerm, namespace), weight: w.weight }));
  const nodeAffinity = affinity?.nodeAffinity;
  const info: PodInfo = {
    key: `${namespace}/${meta.name ?? ""}`,
    uid: meta.uid ?? "",
    namespace,
    name: meta.name ?? "",
    labels: meta.labels ?? {},
    nodeName: spec.nodeName ?? "",
    requests: podRequests(spec),
    nonZeroRequests: podRequests(spec, true),
    hostPorts: hostPorts(spec),
    tolerations: spec.tolerations ?? [],
    nodeSelector: spec.nodeSelector ?? {},
    requiredNodeTerms: nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
      ?.nodeSelectorTerms,
    preferredNodeTerms: nodeAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [],
    requiredAffinity: terms(affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution),
    requiredAntiAffinity: terms(
      affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution,
    ),
    preferredAffinity: weighted(
      affinity?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
    ),
    preferredAntiAffinity: weighted(
      affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution,
    ),
    ownerUid: meta.ownerReferences?.find((r) => r.controller === true)?.uid,
    images: (spec.containers ?? []).flatMap((c) => c.image ? [normalizedImageName(c.image)] : []),
    hasAffinity: false,
    claims: podClaimNames(obj),
  };
  info.hasAffinity = info.requiredAffinity.length + info.requiredAntiAffinity.length +
      info.preferredAffinity.length + info.preferredAntiAffinity.length > 0;
  return info;
}
