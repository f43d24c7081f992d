/**
 * Strict parsers for the values that reach nft text: IPv4 addresses, IPv4 CIDRs and port
 * numbers. Anything they do not accept never becomes part of a script.
 *
 * @module
 */

import { parseIPv4 } from "./ipv4.ts";

/** An IPv4 network in CIDR notation. */
export interface Ipv4Cidr {
  /** the network address as an unsigned 32-bit number */
  base: number;
  /** the prefix length, 0..32 */
  bits: number;
  /** the canonical text, `10.96.0.0/16` */
  text: string;
}

/** Parses `a.b.c.d/n`; undefined when malformed or when host bits are set. */
export function parseIPv4Cidr(s: string): Ipv4Cidr | undefined {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(s);
  if (!m) return undefined;
  const base = parseIPv4(m[1]!);
  const bits = Number(m[2]);
  if (base === undefined || bits > 32 || String(bits) !== m[2]) return undefined;
  if (bits < 32 && base % 2 ** (32 - bits) !== 0) return undefined;
  return { base, bits, text: s };
}

/**
 * Why `s` cannot be a service or endpoint address (as Kubernetes' `ValidateNonSpecialIP`:
 * unspecified, loopback, link-local, multicast and reserved ranges), or undefined when it can.
 */
export function ipv4AddressProblem(s: string): string | undefined {
  if (s.includes(":")) return "IPv6 is not supported (the proxy table is IPv4 only)";
  const n = parseIPv4(s);
  if (n === undefined) return "not an IPv4 address";
  const first = Math.floor(n / 2 ** 24);
  if (first === 0) return "may not be in 0.0.0.0/8";
  if (first === 127) return "may not be a loopback address";
  if (Math.floor(n / 2 ** 16) === 169 * 256 + 254) return "may not be link-local";
  if (first >= 224) return "may not be multicast, reserved or broadcast";
  return undefined;
}

/** True for an integer in 1..65535. */
export function isPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}
