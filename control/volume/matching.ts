/**
 * Which PersistentVolume may a PersistentVolumeClaim bind: the rules the PV binder and the
 * scheduler's VolumeBinding filter share (Kubernetes' `FindMatchingVolume` and
 * `checkVolumeSatisfyClaim`).
 *
 * A volume fits a claim when it is not being deleted, is `Available` and not reserved for another
 * claim (`spec.claimRef`), has the claim's class, offers every access mode the claim asks for,
 * the same volume mode, at least the requested storage, labels the claim's `selector` matches,
 * and, when a node is given, node affinity that node satisfies. Among the fitting volumes the
 * smallest wins (ties: the name first in order, so every caller picks the same one). A volume
 * pre-bound to the claim (`claimRef` naming it) wins over everything, if it is large enough, of
 * the claim's volume mode and its node fits.
 *
 * @example
 * ```ts
 * const volume = findBestVolume(claim, volumes.list());
 * if (!volume) console.log(explainNoMatch(claim, volumes.list()));
 * ```
 *
 * @module
 */

import { labelSelectorFromSpec, matchesLabelSelector } from "../../storage/labels.ts";
import { isPlainObject, type KubeObject } from "../../storage/object.ts";
import {
  claimClassName,
  phaseOf,
  volumeClaimRef,
  volumeClassName,
} from "../../storage/persistent_volumes.ts";
import { scaledValue } from "../../storage/quantity.ts";
import { nodeSelectorTermMatches } from "../scheduler/filters.ts";
import type { NodeSelectorTerm } from "../scheduler/pod_info.ts";

/** The parts of a node that volume node affinity looks at. */
export interface NodeLike {
  name: string;
  labels: Readonly<Record<string, string>>;
}

/** Options of {@linkcode findBestVolume}. */
export interface MatchOptions {
  /** only volumes this node can reach (their `spec.nodeAffinity` holds for it) */
  node?: NodeLike;
  /**
   * the claim's class binds late (WaitForFirstConsumer) and no node is chosen yet: only a
   * volume pre-bound to the claim may be taken (Kubernetes' `delayBinding` without a node)
   */
  delayBinding?: boolean;
}

/** Why a volume does not fit a claim, in the words events and tests use. */
export type Mismatch =
  | "being deleted"
  | "not available"
  | "bound to another claim"
  | "storage class"
  | "access modes"
  | "volume mode"
  | "selector"
  | "too small"
  | "node affinity";

function record(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** The storage a claim requests, in bytes (0 when it names none or a malformed quantity). */
export function requestedBytes(claim: KubeObject): bigint {
  return bytesOf(record(record(record(claim.spec).resources).requests).storage);
}

/** The storage a volume offers (`spec.capacity.storage`), in bytes. */
export function capacityBytes(volume: KubeObject): bigint {
  return bytesOf(record(record(volume.spec).capacity).storage);
}

/** Parsed sizes by their text: a binder matching every claim against every volume parses few. */
const SIZES = new Map<string | number, bigint>();
const MAX_SIZES = 4096;

function bytesOf(q: unknown): bigint {
  if (typeof q !== "string" && typeof q !== "number") return 0n;
  let bytes = SIZES.get(q);
  if (bytes === undefined) {
    try {
      bytes = scaledValue(q, 0);
    } catch {
      bytes = 0n;
    }
    if (SIZES.size >= MAX_SIZES) SIZES.clear();
    SIZES.set(q, bytes);
  }
  return bytes;
}

function volumeMode(spec: Record<string, unknown>): string {
  return typeof spec.volumeMode === "string" ? spec.volumeMode : "Filesystem";
}

/** True when `volume.spec.claimRef` names `claim` (its namespace and name, and uid if set). */
export function isVolumeBoundToClaim(volume: KubeObject, claim: KubeObject): boolean {
  const ref = volumeClaimRef(volume);
  if (!ref) return false;
  if (ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace) return false;
  return ref.uid === undefined || ref.uid === claim.metadata.uid;
}

/**
 * True when `node` satisfies the volume's required node affinity (a volume without one is
 * reachable from every node; terms are ORed, as for pods).
 */
export function volumeNodeAffinityMatches(volume: KubeObject, node: NodeLike): boolean {
  const required = record(record(record(volume.spec).nodeAffinity).required);
  const terms = required.nodeSelectorTerms;
  if (!Array.isArray(terms)) return true;
  return terms.some((t) =>
    isPlainObject(t) && nodeSelectorTermMatches(t as NodeSelectorTerm, node)
  );
}

function offersAccessModes(claim: KubeObject, volume: KubeObject): boolean {
  const offered = new Set(strings(record(volume.spec).accessModes));
  return strings(record(claim.spec).accessModes).every((m) => offered.has(m));
}

/**
 * Whether a volume pre-bound to a claim (`spec.volumeName` on the claim, or the claim in the
 * volume's `claimRef`) can satisfy it: not being deleted, and size, class, volume mode and
 * access modes must agree (`checkVolumeSatisfyClaim`). Undefined when it can, else the mismatch.
 */
export function checkVolumeSatisfiesClaim(
  claim: KubeObject,
  volume: KubeObject,
): Mismatch | undefined {
  if (volume.metadata.deletionTimestamp) return "being deleted";
  if (capacityBytes(volume) < requestedBytes(claim)) return "too small";
  if (volumeClassName(volume) !== claimClassName(claim)) return "storage class";
  if (volumeMode(record(volume.spec)) !== volumeMode(record(claim.spec))) return "volume mode";
  if (!offersAccessModes(claim, volume)) return "access modes";
  return undefined;
}

/** Why `volume` cannot be bound to `claim` (`undefined` when it can), for an unbound claim. */
export function volumeMismatch(
  claim: KubeObject,
  volume: KubeObject,
  node?: NodeLike,
): Mismatch | undefined {
  const claimSpec = record(claim.spec);
  const spec = record(volume.spec);
  if (volume.metadata.deletionTimestamp) return "being deleted";
  if (volumeMode(spec) !== volumeMode(claimSpec)) return "volume mode";
  if (node && !volumeNodeAffinityMatches(volume, node)) return "node affinity";
  if (isVolumeBoundToClaim(volume, claim)) return undefined;
  if (volumeClaimRef(volume)) return "bound to another claim";
  if (phaseOf(volume) !== "Available") return "not available";
  if (volumeClassName(volume) !== claimClassName(claim)) return "storage class";
  if (!offersAccessModes(claim, volume)) return "access modes";
  if (claimSpec.selector !== undefined) {
    let matches = false;
    try {
      matches = matchesLabelSelector(
        labelSelectorFromSpec(claimSpec.selector as never),
        volume.metadata.labels,
      );
    } catch {
      matches = false;
    }
    if (!matches) return "selector";
  }
  if (capacityBytes(volume) < requestedBytes(claim)) return "too small";
  return undefined;
}

function byName(a: KubeObject, b: KubeObject): number {
  const x = a.metadata.name ?? "";
  const y = b.metadata.name ?? "";
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The volume `claim` should bind: one pre-bound to it if any (when its node fits), else the
 * smallest fitting one; undefined when none fits. See the module documentation.
 */
export function findBestVolume(
  claim: KubeObject,
  volumes: Iterable<KubeObject>,
  options: MatchOptions = {},
): KubeObject | undefined {
  let best: KubeObject | undefined;
  let bestBytes = 0n;
  for (const volume of [...volumes].sort(byName)) {
    if (volume.metadata.deletionTimestamp) continue;
    // as Kubernetes' findMatchingVolume: even a pre-bound volume must be large enough and of
    // the claim's volume mode
    if (capacityBytes(volume) < requestedBytes(claim)) continue;
    if (volumeMode(record(volume.spec)) !== volumeMode(record(claim.spec))) continue;
    if (isVolumeBoundToClaim(volume, claim)) {
      if (options.node && !volumeNodeAffinityMatches(volume, options.node)) return undefined;
      return volume;
    }
    if (options.delayBinding && !options.node) continue;
    if (volumeMismatch(claim, volume, options.node) !== undefined) continue;
    const bytes = capacityBytes(volume);
    if (!best || bytes < bestBytes) {
      best = volume;
      bestBytes = bytes;
    }
  }
  return best;
}

/** `1073741824` → `1Gi`, `1500` → `1500`: sizes in messages, in the largest exact binary unit. */
export function formatBytes(bytes: bigint): string {
  const units = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
  let value = bytes;
  let unit = 0;
  while (unit < units.length - 1 && value >= 1024n && value % 1024n === 0n) {
    value /= 1024n;
    unit++;
  }
  return `${value}${units[unit]}`;
}

/**
 * Why no volume fits `claim`, for the `FailedBinding` Event: Kubernetes' sentence, then, for
 * the volumes of the claim's class, how many failed on what, e.g.
 * `no persistent volumes available for this claim and no storage class is set: 1 of 1 volume(s)
 * of this class too small (largest 1Gi, 5Gi requested)`.
 */
export function explainNoMatch(
  claim: KubeObject,
  volumes: Iterable<KubeObject>,
  options: MatchOptions = {},
): string {
  const className = claimClassName(claim);
  const head = className === ""
    ? "no persistent volumes available for this claim and no storage class is set"
    : `no persistent volumes of storage class "${className}" available for this claim`;
  const counts = new Map<Mismatch, number>();
  let total = 0;
  let largest = -1n;
  for (const volume of volumes) {
    if (volumeClassName(volume) !== className) continue;
    total++;
    const why = volumeMismatch(claim, volume, options.node) ?? "not available";
    counts.set(why, (counts.get(why) ?? 0) + 1);
    if (why === "too small") {
      const bytes = capacityBytes(volume);
      if (bytes > largest) largest = bytes;
    }
  }
  if (total === 0) return `${head}: no volume has this class`;
  const parts = [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([why, n]) => {
    const detail = why === "too small"
      ? ` (largest ${formatBytes(largest)}, ${formatBytes(requestedBytes(claim))} requested)`
      : why === "node affinity" && options.node
      ? ` of node "${options.node.name}"`
      : "";
    return `${n} ${why}${detail}`;
  });
  return `${head}: of ${total} volume(s) of this class, ${parts.join(", ")}`;
}
