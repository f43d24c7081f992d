/**
 * {@linkcode ClusterRecords}: the cluster DNS zone as a pure lookup over Services and Endpoints,
 * answering as CoreDNS's `kubernetes` plugin does.
 *
 * Names, for a cluster domain `cluster.local`:
 * - `<svc>.<ns>.svc.cluster.local`: A (AAAA) → the cluster IPs; for a headless service
 *   (`clusterIP: None`) one record per ready endpoint address (not-ready ones too when
 *   `publishNotReadyAddresses`); for `type: ExternalName` a CNAME to `spec.externalName`.
 * - `<host>.<svc>.<ns>.svc.cluster.local` (headless only): A for one endpoint address, where
 *   `<host>` is the address's `hostname`, or its IP with dashes (`10-244-1-5`) without one.
 * - `_<port>._<proto>.<svc>.<ns>.svc.cluster.local`: SRV for each named port, targeting the
 *   service name (ClusterIP) or each endpoint's host name (headless), with the target's address
 *   records in the additional section.
 * - `<reversed-ip>.in-addr.arpa`: PTR for a service's cluster IP (→ the service name) and for a
 *   headless endpoint address (→ its host name).
 *
 * A name that exists without records of the asked type gets NOERROR with no answers (NODATA),
 * and so does a service's own name while it has no address (headless without ready endpoints);
 * a name in the domain that does not exist gets NXDOMAIN; both carry the zone's SOA in the
 * authority section. Names are matched case-insensitively; every record has TTL 5 s (CoreDNS's
 * default). Names outside the domain (and reverse names of addresses that are no service's)
 * come back as `{ kind: "outside" }`: the server forwards or refuses them.
 *
 * The index is built when the snapshot changes (per service, incrementally), so a lookup is a
 * few map reads.
 *
 * @example
 * ```ts
 * const records = new ClusterRecords();
 * records.setSnapshot({ services, endpoints });
 * records.lookup("web.default.svc.cluster.local", "A"); // { kind: "local", rcode: "NOERROR", ... }
 * ```
 *
 * @module
 */

import { isIPv4, isIPv6 } from "node:net";
import type { Endpoints } from "../../storage/kinds/endpoints.ts";
import type { Service } from "../../storage/kinds/service.ts";
import { isDns1123Label } from "../../storage/validation.ts";
import type { Answer } from "./_packet.ts";

/** The cluster domain when none is given. */
export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";

/** The TTL of every record, in seconds (CoreDNS's kubernetes plugin default). */
export const DEFAULT_TTL = 5;

/** What the resolver serves: every Service and Endpoints object of the cluster. */
export interface DnsSnapshot {
  services: readonly Service[];
  endpoints: readonly Endpoints[];
}

/** Options of {@linkcode ClusterRecords}. */
export interface ClusterRecordsOptions {
  /** the cluster domain (default `cluster.local`) */
  domain?: string;
  /** TTL of every record in seconds (default 5) */
  ttl?: number;
  /** milliseconds since the epoch, for the SOA serial (default `Date.now`) */
  now?: () => number;
}

/** The outcome of {@linkcode ClusterRecords.lookup}. */
export type Lookup =
  | {
    kind: "local";
    rcode: "NOERROR" | "NXDOMAIN";
    answers: Answer[];
    authorities: Answer[];
    additionals: Answer[];
  }
  | { kind: "outside" };

/** `namespace/name` of an object. */
function keyOf(obj: { metadata: { namespace?: string | undefined; name?: string | undefined } }) {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
}

/** A name as the index keys it: lower case, no trailing dot. */
export function canonicalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/**
 * True when `name` can be written in a DNS message: dot-separated labels of 1–63 letters,
 * digits, `-` or `_`, at most 253 characters.
 */
export function isEncodableName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) => /^[A-Za-z0-9_-]{1,63}$/.test(label));
}

/** The reverse-lookup name of an IPv4 address (`10.96.0.10` → `10.0.96.10.in-addr.arpa`). */
export function reverseName(ip: string): string | undefined {
  return isIPv4(ip) ? `${ip.split(".").reverse().join(".")}.in-addr.arpa` : undefined;
}

/** The DNS label CoreDNS gives an endpoint address without a hostname (`10-244-1-5`). */
export function dashedAddress(ip: string): string {
  return ip.replaceAll(/[.:]/g, "-");
}

/** The address record of `ip` at `name` (A or AAAA), or undefined for a malformed IP. */
function addressRecord(name: string, ip: string, ttl: number): Answer | undefined {
  if (isIPv4(ip)) return { type: "A", name, ttl, data: ip };
  if (isIPv6(ip)) return { type: "AAAA", name, ttl, data: ip };
  return undefined;
}

/** The resolver; see the module documentation. */
export class ClusterRecords {
  readonly #domain: string;
  readonly #suffix: string;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #services = new Map<string, Service>();
  readonly #endpoints = new Map<string, Endpoints>();
  /** owner name → service key → the records that service puts at that name */
  readonly #names = new Map<string, Map<string, Answer[]>>();
  /** service key → the owner names it wrote */
  readonly #owned = new Map<string, string[]>();
  /** names in the domain that only exist as ancestors of records (empty non-terminals) */
  readonly #interior = new Map<string, number>();
  #serial: number;

  constructor(options: ClusterRecordsOptions = {}) {
    const domain = canonicalName(options.domain ?? DEFAULT_CLUSTER_DOMAIN);
    if (!isEncodableName(domain)) {
      throw new Error(`Cannot serve cluster domain '${options.domain}': not a valid DNS name`);
    }
    this.#domain = domain;
    this.#suffix = `.${domain}`;
    this.#ttl = options.ttl ?? DEFAULT_TTL;
    this.#now = options.now ?? Date.now;
    this.#serial = this.#nextSerial();
  }

  /** The cluster domain, lower case, without a trailing dot. */
  get domain(): string {
    return this.#domain;
  }

  /** Replace everything with `snapshot`. */
  setSnapshot(snapshot: DnsSnapshot): void {
    this.#services.clear();
    this.#endpoints.clear();
    this.#names.clear();
    this.#owned.clear();
    this.#interior.clear();
    for (const svc of snapshot.services) this.#services.set(keyOf(svc), svc);
    for (const ep of snapshot.endpoints) this.#endpoints.set(keyOf(ep), ep);
    for (const key of this.#services.keys()) this.#rebuild(key);
    this.#serial = this.#nextSerial();
  }

  /** Add or replace one Service. */
  applyService(svc: Service): void {
    const key = keyOf(svc);
    this.#services.set(key, svc);
    this.#rebuild(key);
  }

  /** Forget one Service. */
  removeService(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    this.#services.delete(key);
    this.#rebuild(key);
  }

  /** Add or replace one Endpoints object. */
  applyEndpoints(ep: Endpoints): void {
    const key = keyOf(ep);
    this.#endpoints.set(key, ep);
    this.#rebuild(key);
  }

  /** Forget one Endpoints object. */
  removeEndpoints(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    this.#endpoints.delete(key);
    this.#rebuild(key);
  }

  /** True when `name` is the cluster domain or inside it. */
  inDomain(name: string): boolean {
    const n = canonicalName(name);
    return n === this.#domain || n.endsWith(this.#suffix);
  }

  /**
   * Answer a question. `name` as asked (any case, trailing dot or not), `type` a record type
   * name (`A`, `SRV`, `ANY`, ... or dns-packet's `UNKNOWN_<n>`). Answers for the asked name
   * carry its spelling; others (a CNAME's target, SRV targets) are in lower case.
   */
  lookup(name: string, type: string): Lookup {
    const n = canonicalName(name);
    const inDomain = n === this.#domain || n.endsWith(this.#suffix);
    const owners = this.#names.get(n);
    if (!owners) {
      if (!inDomain) return { kind: "outside" };
      if (n === this.#domain && (type === "SOA" || type === "ANY")) {
        return this.#local("NOERROR", [{ ...this.#soa(), name }], [], []);
      }
      if (n === this.#domain || this.#interior.has(n)) {
        return this.#local("NOERROR", [], [this.#soa()], []);
      }
      return this.#local("NXDOMAIN", [], [this.#soa()], []);
    }
    const records = [...owners.values()].flat();
    const cname = records.find((r) => r.type === "CNAME");
    if (cname && type !== "CNAME" && type !== "ANY") {
      return this.#local("NOERROR", [{ ...cname, name }, ...this.#chase(cname, type)], [], []);
    }
    const answers = records
      .filter((r) => type === "ANY" || r.type === type)
      .map((r) => ({ ...r, name }));
    const authorities = answers.length === 0 && inDomain ? [this.#soa()] : [];
    // the index's own record objects: a Set drops a target named by several SRV records
    const additionals = [
      ...new Set(answers.flatMap((r) => r.type === "SRV" ? this.#addresses(r.data.target) : [])),
    ];
    return this.#local("NOERROR", answers, authorities, additionals);
  }

  #local(
    rcode: "NOERROR" | "NXDOMAIN",
    answers: Answer[],
    authorities: Answer[],
    additionals: Answer[],
  ): Lookup {
    return { kind: "local", rcode, answers, authorities, additionals };
  }

  /** The records of `type` at a CNAME's target when the target is in the zone (up to 8 hops). */
  #chase(cname: Answer, type: string): Answer[] {
    const out: Answer[] = [];
    let target = cname.type === "CNAME" ? canonicalName(cname.data) : "";
    for (let hop = 0; hop < 8 && target; hop++) {
      const records = [...(this.#names.get(target)?.values() ?? [])].flat();
      const next = records.find((r) => r.type === "CNAME");
      if (next?.type === "CNAME") {
        out.push(next);
        target = canonicalName(next.data);
        continue;
      }
      out.push(...records.filter((r) => r.type === type));
      break;
    }
    return out;
  }

  /** The A and AAAA records at `name`. */
  #addresses(name: string): Answer[] {
    const records = [...(this.#names.get(canonicalName(name))?.values() ?? [])].flat();
    return records.filter((r) => r.type === "A" || r.type === "AAAA");
  }

  #soa(): Answer {
    return {
      type: "SOA",
      name: this.#domain,
      ttl: this.#ttl,
      data: {
        mname: `ns.dns.${this.#domain}`,
        rname: `hostmaster.${this.#domain}`,
        serial: this.#serial,
        refresh: 7200,
        retry: 1800,
        expire: 86400,
        minimum: this.#ttl,
      },
    };
  }

  #nextSerial(): number {
    return Math.floor(this.#now() / 1000) >>> 0;
  }

  /** Drop what service `key` contributed and index what it contributes now. */
  #rebuild(key: string): void {
    for (const name of this.#owned.get(key) ?? []) {
      const owners = this.#names.get(name);
      owners?.delete(key);
      if (owners?.size === 0) this.#names.delete(name);
      for (const parent of this.#parents(name)) {
        const count = (this.#interior.get(parent) ?? 1) - 1;
        if (count === 0) this.#interior.delete(parent);
        else this.#interior.set(parent, count);
      }
    }
    this.#owned.delete(key);
    const svc = this.#services.get(key);
    const byName = new Map<string, Answer[]>();
    if (!svc) {
      this.#serial = this.#nextSerial();
      return;
    }
    // the service's own name exists even without addresses (NODATA, not NXDOMAIN)
    byName.set(this.#serviceName(svc), []);
    const records = this.#recordsOf(svc, this.#endpoints.get(key));
    for (const r of records) {
      const list = byName.get(r.name);
      if (list) list.push(r);
      else byName.set(r.name, [r]);
    }
    for (const [name, list] of byName) {
      let owners = this.#names.get(name);
      if (!owners) this.#names.set(name, owners = new Map());
      owners.set(key, list);
      for (const parent of this.#parents(name)) {
        this.#interior.set(parent, (this.#interior.get(parent) ?? 0) + 1);
      }
    }
    this.#owned.set(key, [...byName.keys()]);
    this.#serial = this.#nextSerial();
  }

  /** The names strictly between `name` and the domain apex (none outside the domain). */
  #parents(name: string): string[] {
    if (!name.endsWith(this.#suffix)) return [];
    const out: string[] = [];
    for (let dot = name.indexOf("."); dot >= 0; dot = name.indexOf(".", dot + 1)) {
      const parent = name.slice(dot + 1);
      if (parent === this.#domain) break;
      out.push(parent);
    }
    return out;
  }

  /** Every record a service puts in the zone (lower-case names). */
  #recordsOf(svc: Service, ep: Endpoints | undefined): Answer[] {
    const ttl = this.#ttl;
    const base = this.#serviceName(svc);
    const spec = svc.spec;
    if (spec.type === "ExternalName") {
      const target = spec.externalName?.replace(/\.$/, "") ?? "";
      return isEncodableName(target) ? [{ type: "CNAME", name: base, ttl, data: target }] : [];
    }
    if (spec.clusterIP !== "None") return this.#clusterIPRecords(svc, base);
    const out: Answer[] = [];
    const seen = new Set<string>();
    /** SRV name → targets and ports */
    const srv = new Map<string, Array<{ target: string; port: number }>>();
    for (const subset of ep?.subsets ?? []) {
      const addresses = [
        ...(subset.addresses ?? []),
        ...(spec.publishNotReadyAddresses ? subset.notReadyAddresses ?? [] : []),
      ];
      for (const address of addresses) {
        const host = address.hostname && isDns1123Label(address.hostname)
          ? address.hostname
          : dashedAddress(address.ip);
        const hostName = `${host}.${base}`;
        const record = addressRecord(base, address.ip, ttl);
        if (!record) continue;
        if (!seen.has(address.ip)) {
          seen.add(address.ip);
          out.push(record, { ...record, name: hostName });
          const ptr = reverseName(address.ip);
          if (ptr) out.push({ type: "PTR", name: ptr, ttl, data: hostName });
        }
        for (const port of subset.ports ?? []) {
          if (!port.name) continue;
          const name = `_${port.name}._${port.protocol.toLowerCase()}.${base}`;
          const list = srv.get(name);
          const entry = { target: hostName, port: port.port };
          if (list) list.push(entry);
          else srv.set(name, [entry]);
        }
      }
    }
    for (const [name, entries] of srv) {
      // as CoreDNS: records of one priority share a weight of 100% in hundredths
      const weight = Math.floor(10000 / entries.length);
      for (const { target, port } of entries) {
        out.push({ type: "SRV", name, ttl, data: { priority: 0, weight, port, target } });
      }
    }
    return out;
  }

  #serviceName(svc: Service): string {
    return `${svc.metadata.name}.${svc.metadata.namespace}.svc.${this.#domain}`;
  }

  #clusterIPRecords(svc: Service, base: string): Answer[] {
    const ttl = this.#ttl;
    const spec = svc.spec;
    const out: Answer[] = [];
    const ips = spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : []);
    for (const ip of new Set(ips)) {
      const record = addressRecord(base, ip, ttl);
      if (!record) continue;
      out.push(record);
      const ptr = reverseName(ip);
      if (ptr) out.push({ type: "PTR", name: ptr, ttl, data: base });
    }
    for (const port of spec.ports ?? []) {
      if (!port.name) continue;
      out.push({
        type: "SRV",
        name: `_${port.name}._${port.protocol.toLowerCase()}.${base}`,
        ttl,
        data: { priority: 0, weight: 10000, port: port.port, target: base },
      });
    }
    return out;
  }
}
