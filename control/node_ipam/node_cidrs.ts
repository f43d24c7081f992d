/**
 * {@linkcode NodeCidrSpace}: the cluster CIDR cut into equal node CIDRs (10.244.0.0/16 into
 * 256 /24s), numbered, so that a {@linkcode RangeAllocator} can hand them out. Pure.
 *
 * @example
 * ```ts
 * const space = new NodeCidrSpace(parseCidr("10.244.0.0/16"), 24);
 * space.count;                   // 256
 * space.cidrAt(3);               // "10.244.3.0/24"
 * space.slotOf("10.244.3.0/24"); // 3
 * space.slotOf("10.1.0.0/24");   // undefined: not one of ours
 * ```
 *
 * @module
 */

import { type Cidr, containsCidr, parseCidr, subnetAt, subnetCount } from "../allocators/cidr.ts";

/** Numbered node CIDRs of one cluster CIDR. */
export class NodeCidrSpace {
  readonly cluster: Cidr;
  readonly maskSize: number;
  /** how many node CIDRs there are */
  readonly count: number;

  /** @throws {RangeError} when `maskSize` does not fit in `cluster` */
  constructor(cluster: Cidr, maskSize: number) {
    this.cluster = cluster;
    this.maskSize = maskSize;
    this.count = subnetCount(cluster, maskSize);
  }

  /** The node CIDR numbered `slot`, as text. */
  cidrAt(slot: number): string {
    return subnetAt(this.cluster, this.maskSize, slot).text;
  }

  /** The number of node CIDR `text`, or undefined when it is not one of this space's. */
  slotOf(text: string): number | undefined {
    let cidr: Cidr;
    try {
      cidr = parseCidr(text);
    } catch {
      return undefined;
    }
    if (cidr.prefix !== this.maskSize || !containsCidr(this.cluster, cidr)) return undefined;
    return (cidr.network - this.cluster.network) / cidr.size;
  }
}
