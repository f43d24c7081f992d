/**
 * The addresses of one pod network (the node's podCIDR) that the podman runtime hands to the
 * sandboxes it makes (`podman pod create --ip`), so a pod's IP is known when its sandbox is
 * made, without asking podman once the sandbox runs. Like the host-local IPAM plugin it goes
 * round the subnet from the last address given, so a freed address is not reused at once;
 * the network and gateway addresses (and the broadcast address) are never given.
 *
 * @example
 * ```ts
 * const pool = IpPool.of("10.244.1.0/24")!;
 * pool.hold("u-old", "10.244.1.2"); // seen on a sandbox made earlier
 * pool.allocate("u-new"); // "10.244.1.3"
 * pool.release("u-new");
 * ```
 *
 * @module
 */

import { formatIPv4, parseIPv4 } from "../net/ipv4.ts";
import { parseCidr } from "../net/routes.ts";

/** Addresses handed out, by pod uid, within one IPv4 subnet. */
export class IpPool {
  readonly #first: number;
  readonly #last: number;
  /** address → pod uid holding it ("" for an address in use by something we did not make) */
  readonly #used = new Map<number, string>();
  /** pod uid → address */
  readonly #byPod = new Map<string, number>();
  #next: number;

  private constructor(first: number, last: number) {
    this.#first = first;
    this.#last = last;
    this.#next = first;
  }

  /** The pool of `cidr` (gateway: its first address), or undefined when it is not an IPv4 /8–/30. */
  static of(cidr: string): IpPool | undefined {
    const parsed = parseCidr(cidr);
    if (!parsed || parsed.prefix < 8 || parsed.prefix > 30) return undefined;
    const size = 2 ** (32 - parsed.prefix);
    // base is the network, base + 1 the gateway, base + size - 1 the broadcast address
    return new IpPool(parsed.base + 2, parsed.base + size - 2);
  }

  /** Whether `ip` is an address this pool could give. */
  contains(ip: string): boolean {
    const n = parseIPv4(ip);
    return n !== undefined && n >= this.#first && n <= this.#last;
  }

  /** Notes that `uid` (or, with "", something else) holds `ip`; ignored outside the pool. */
  hold(uid: string, ip: string): void {
    const n = parseIPv4(ip);
    if (n === undefined || n < this.#first || n > this.#last) return;
    if (uid !== "") {
      const had = this.#byPod.get(uid);
      if (had !== undefined && had !== n && this.#used.get(had) === uid) this.#used.delete(had);
      this.#byPod.set(uid, n);
    }
    this.#used.set(n, uid);
  }

  /** The address of `uid`: the one it holds, else the next free one; undefined when full. */
  allocate(uid: string): string | undefined {
    const held = this.#byPod.get(uid);
    if (held !== undefined) return formatIPv4(held);
    const size = this.#last - this.#first + 1;
    for (let i = 0; i < size; i++) {
      const n = this.#first + ((this.#next - this.#first + i) % size);
      if (this.#used.has(n)) continue;
      this.#used.set(n, uid);
      this.#byPod.set(uid, n);
      this.#next = n + 1 > this.#last ? this.#first : n + 1;
      return formatIPv4(n);
    }
    return undefined;
  }

  /** `uid` gave its address back. */
  release(uid: string): void {
    const n = this.#byPod.get(uid);
    if (n === undefined) return;
    this.#byPod.delete(uid);
    if (this.#used.get(n) === uid) this.#used.delete(n);
  }

  /** How many addresses are held. */
  get size(): number {
    return this.#used.size;
  }
}
