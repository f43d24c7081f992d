/**
 * IPv4 addresses and CIDR blocks as plain numbers: parsing with errors that name the bad value,
 * membership, and the index ↔ address mapping the range allocators work on.
 *
 * An address is an unsigned 32-bit integer (`10.96.0.1` is `0x0a600001`); a {@linkcode Cidr}
 * is its network address, prefix length and size. Parsing is strict: four decimal octets
 * without leading zeros (as Kubernetes validates IPs), and a CIDR must not have host bits set.
 *
 * @example
 * ```ts
 * const cidr = parseCidr("10.96.0.0/16");
 * formatIPv4(addressAt(cidr, 1)); // "10.96.0.1"
 * indexOf(cidr, requireIPv4("10.96.1.0")); // 256
 * ```
 *
 * @module
 */

import { formatIPv4, parseIPv4 } from "../../net/ipv4.ts";

/** An IPv4 CIDR block. */
export interface Cidr {
  /** the network address, as an unsigned 32-bit number */
  readonly network: number;
  /** the prefix length, 0-32 */
  readonly prefix: number;
  /** how many addresses the block holds, `2 ** (32 - prefix)` */
  readonly size: number;
  /** the canonical text, e.g. `10.96.0.0/16` */
  readonly text: string;
}

/** True when `text` is a strict dotted-quad IPv4 address. */
export function isIPv4(text: string): boolean {
  return parseIPv4(text) !== undefined;
}

/**
 * The address `text` as a number.
 * @throws {Error} `invalid IPv4 address "…"` when it is not a strict dotted quad
 */
export function requireIPv4(text: string): number {
  const n = parseIPv4(text);
  if (n === undefined) {
    throw new Error(`invalid IPv4 address ${JSON.stringify(text)}: must be 4 decimal octets`);
  }
  return n;
}

/**
 * The CIDR block `text` (`a.b.c.d/p`).
 * @throws {Error} naming the bad value: not `IP/PREFIX`, a bad address, a prefix outside 0-32,
 * or host bits set (with the block that was probably meant)
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const prefixText = slash < 0 ? "" : text.slice(slash + 1);
  if (slash < 0 || !/^(0|[1-9][0-9]?)$/.test(prefixText)) {
    throw new Error(`invalid CIDR ${JSON.stringify(text)}: must be IPv4/PREFIX, e.g. 10.96.0.0/16`);
  }
  const address = parseIPv4(text.slice(0, slash));
  if (address === undefined) {
    throw new Error(
      `invalid CIDR ${JSON.stringify(text)}: ${
        JSON.stringify(text.slice(0, slash))
      } is not an IPv4 address`,
    );
  }
  const prefix = Number(prefixText);
  if (prefix > 32) {
    throw new Error(`invalid CIDR ${JSON.stringify(text)}: the prefix length must be 0-32`);
  }
  const size = 2 ** (32 - prefix);
  const network = address - (address % size);
  if (network !== address) {
    throw new Error(
      `invalid CIDR ${JSON.stringify(text)}: host bits are set (did you mean ${
        formatIPv4(network)
      }/${prefix}?)`,
    );
  }
  return cidrOf(network, prefix);
}

/** The block of prefix length `prefix` starting at `network` (which must be aligned). */
export function cidrOf(network: number, prefix: number): Cidr {
  return { network, prefix, size: 2 ** (32 - prefix), text: `${formatIPv4(network)}/${prefix}` };
}

/** True when address `ip` lies in `cidr`. */
export function contains(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.network && ip < cidr.network + cidr.size;
}

/** True when block `inner` lies entirely in `outer`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && contains(outer, inner.network);
}

/**
 * The address at offset `index` in `cidr` (0 is the network address).
 * @throws {RangeError} when `index` is outside the block
 */
export function addressAt(cidr: Cidr, index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= cidr.size) {
    throw new RangeError(`offset ${index} is outside ${cidr.text} (0-${cidr.size - 1})`);
  }
  return cidr.network + index;
}

/** The offset of address `ip` in `cidr`, or undefined when it is outside. */
export function indexOf(cidr: Cidr, ip: number): number | undefined {
  return contains(cidr, ip) ? ip - cidr.network : undefined;
}

/**
 * The `index`-th block of prefix length `prefix` inside `cidr` (e.g. the third /24 of a /16).
 * @throws {RangeError} when `prefix` is shorter than the block's or `index` is out of range
 */
export function subnetAt(cidr: Cidr, prefix: number, index: number): Cidr {
  const count = subnetCount(cidr, prefix);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(
      `subnet ${index} is outside the ${count} /${prefix} blocks of ${cidr.text}`,
    );
  }
  return cidrOf(cidr.network + index * 2 ** (32 - prefix), prefix);
}

/**
 * How many blocks of prefix length `prefix` `cidr` holds.
 * @throws {RangeError} when `prefix` is shorter than the block's own, or over 32
 */
export function subnetCount(cidr: Cidr, prefix: number): number {
  if (!Number.isInteger(prefix) || prefix < cidr.prefix || prefix > 32) {
    throw new RangeError(`a /${prefix} block does not fit in ${cidr.text}`);
  }
  return 2 ** (prefix - cidr.prefix);
}
