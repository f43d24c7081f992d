/**
 * The `pod-template-hash` of a Deployment's pod template, and template equality that ignores it.
 *
 * Kubernetes hashes the Go struct with FNV-32a (`controller.ComputeHash`), appends the
 * deployment's `status.collisionCount` as 8 little-endian bytes when it is set, and renders the
 * decimal sum with `rand.SafeEncodeString`'s alphabet (no vowels, no look-alikes). We hash a
 * canonical JSON form of the template instead of the Go struct, so the value differs from
 * Kubernetes' but is deterministic and independent of key order.
 *
 * @example
 * ```ts
 * const hash = computeTemplateHash(deployment.spec.template, deployment.status?.collisionCount);
 * const name = `${deployment.metadata.name}-${hash}`; // "web-5d4c8b9f7"
 * ```
 *
 * @module
 */

import { isPlainObject } from "../../storage/object.ts";

/** The label that ties a ReplicaSet and its pods to one template of a Deployment. */
export const POD_TEMPLATE_HASH_LABEL = "pod-template-hash";

const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/**
 * JSON with object keys sorted at every level, dropping what Kubernetes' semantic equality
 * treats as absent: `undefined`, `null`, empty objects and empty arrays.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(_canonical(value) ?? null);
}

function _canonical(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    return value.length === 0 ? undefined : value.map((v) => _canonical(v) ?? null);
  }
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = _canonical(value[key]);
      if (v !== undefined) out[key] = v;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return value;
}

/** FNV-1a, 32 bits, of `bytes`, continuing from `hash` (the offset basis by default). */
export function fnv32a(bytes: Uint8Array, hash = 0x811c9dc5): number {
  let h = hash >>> 0;
  for (const b of bytes) {
    h = Math.imul(h ^ b, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * `rand.SafeEncodeString`: each byte of `s` mapped onto `bcdfghjklmnpqrstvwxz2456789`, so
 * generated names never spell words and never contain confusable characters.
 */
export function safeEncodeString(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) out += SAFE_ALPHABET[b % SAFE_ALPHABET.length];
  return out;
}

/**
 * The `pod-template-hash` for `template` (a Deployment's `spec.template`, without the hash
 * label) and the deployment's `status.collisionCount` (absent and 0 hash differently, as in
 * Kubernetes).
 */
export function computeTemplateHash(template: unknown, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(canonicalJson(template)));
  if (collisionCount !== undefined) {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(bytes, h);
  }
  return safeEncodeString(String(h));
}

/** `template` without the `pod-template-hash` label (a copy; the input is not changed). */
export function withoutHashLabel(template: unknown): unknown {
  if (!isPlainObject(template) || !isPlainObject(template.metadata)) return template;
  const labels = template.metadata.labels;
  if (!isPlainObject(labels) || !(POD_TEMPLATE_HASH_LABEL in labels)) return template;
  const { [POD_TEMPLATE_HASH_LABEL]: _, ...rest } = labels;
  return { ...template, metadata: { ...template.metadata, labels: rest } };
}

/**
 * `EqualIgnoreHash`: whether two pod templates are the same apart from the
 * `pod-template-hash` label (and apart from key order and empty-versus-absent values).
 */
export function equalIgnoreHash(a: unknown, b: unknown): boolean {
  return canonicalJson(withoutHashLabel(a)) === canonicalJson(withoutHashLabel(b));
}
