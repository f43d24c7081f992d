/**
 * Work-queue keys of the storage controllers, which reconcile claims and volumes from one
 * queue: `claim:<namespace>/<name>` and `volume:<name>`.
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";

/** The key of a claim. */
export function claimKey(namespace: string, name: string): string {
  return `claim:${namespace}/${name}`;
}

/** The key of a claim object. */
export function claimKeyOf(claim: KubeObject): string {
  return claimKey(claim.metadata.namespace ?? "", claim.metadata.name ?? "");
}

/** The key of a volume. */
export function volumeKey(name: string): string {
  return `volume:${name}`;
}

/** What a key names; undefined for a malformed key. */
export function parseKey(
  key: string,
):
  | { kind: "claim"; namespace: string; name: string }
  | { kind: "volume"; name: string }
  | undefined {
  if (key.startsWith("volume:")) return { kind: "volume", name: key.slice("volume:".length) };
  if (!key.startsWith("claim:")) return undefined;
  const rest = key.slice("claim:".length);
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  return { kind: "claim", namespace: rest.slice(0, slash), name: rest.slice(slash + 1) };
}
