/**
 * Test helpers for control-plane code: an in-memory store with namespaces in it.
 *
 * @module
 */

import { type KvStore, openKvStore } from "../storage/kv_store.ts";
import { findKind } from "../storage/registry.ts";
import { Objects } from "./api/objects.ts";

/** An in-memory store holding the given namespaces (default: `default` and `kube-system`). */
export async function storeWithNamespaces(
  ...names: string[]
): Promise<KvStore> {
  const store = await openKvStore(":memory:");
  const objects = new Objects(store);
  for (const name of names.length > 0 ? names : ["default", "kube-system"]) {
    await objects.create(findKind("v1", "Namespace")!, undefined, {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    }, { fieldValidation: "Strict", dryRun: false });
  }
  return store;
}
