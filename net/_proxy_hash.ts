/**
 * Stable short names for nft objects: a 60-bit hash of an identity string, in base32
 * (`A`–`Z`, `2`–`7`), so a chain name never depends on the length of a namespace, service or
 * port name and stays the same from one sync (and one process) to the next.
 *
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** murmur3's 32-bit finaliser: spreads every input bit over the whole word. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Twelve base32 characters (60 bits) derived from `identity`: two FNV-1a passes with
 * different offset bases, each finalised. Collisions are improbable (about 2e-9 for 60,000
 * names) and the model still checks for them.
 */
export function shortHash(identity: string): string {
  let a = 0x811c9dc5;
  let b = 0x5bd1e995;
  for (let i = 0; i < identity.length; i++) {
    const c = identity.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  const hi = mix(a ^ identity.length);
  const lo = mix(b + Math.imul(hi, 0x9e3779b1));
  let out = "";
  for (let i = 0; i < 6; i++) out += ALPHABET[(hi >>> (i * 5)) & 31];
  for (let i = 0; i < 6; i++) out += ALPHABET[(lo >>> (i * 5)) & 31];
  return out;
}
