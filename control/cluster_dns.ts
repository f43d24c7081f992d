/**
 * {@linkcode ClusterDns}: cluster DNS inside the control-plane process. Two informers (Services,
 * Endpoints) keep a {@linkcode ClusterRecords} zone current; a {@linkcode ClusterDnsServer}
 * answers on UDP and TCP; and every start makes sure Service `kube-system/kube-dns` (the VIP pods
 * use as their resolver, port 53) and its Endpoints (this process's advertised address and real
 * listening port) exist as configured.
 *
 * The Service has no selector, so the Endpoints controller leaves its Endpoints alone (as for
 * any selector-less Service); the agents' service proxy DNATs `clusterIP:53` to
 * `advertiseAddress:<port>`.
 *
 * @example
 * ```ts
 * const dns = new ClusterDns({
 *   store,
 *   listen: { hostname: "0.0.0.0", port: 53 },
 *   advertiseAddress: "192.168.1.10",
 * });
 * await dns.start();
 * await dns.stop();
 * ```
 *
 * @module
 */

import { isIP } from "node:net";
import { ClusterRecords, DEFAULT_CLUSTER_DOMAIN } from "../net/dns/records.ts";
import { ClusterDnsServer, type DnsAddress } from "../net/dns/server.ts";
import type { Endpoints } from "../storage/kinds/endpoints.ts";
import type { Service } from "../storage/kinds/service.ts";
import { cloneJson, type KubeObject } from "../storage/object.ts";
import { findKind } from "../storage/registry.ts";
import { type ResourceType, storeKey, storePrefix } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import type { Store } from "../storage/store.ts";
import { Objects, sameJson } from "./api/objects.ts";
import { errorMessage, Informer, type InformerEvent } from "./informer.ts";

/** The cluster DNS Service's cluster IP unless configured otherwise. */
export const DEFAULT_CLUSTER_DNS_IP = "10.96.0.10";

/** Namespace and name of the cluster DNS Service and Endpoints. */
export const KUBE_DNS = { namespace: "kube-system", name: "kube-dns" } as const;

/** Options of {@linkcode ClusterDns}. */
export interface ClusterDnsOptions {
  store: Store;
  /** where the DNS server listens (UDP and TCP); port 0 picks a free one */
  listen: { hostname: string; port: number };
  /** the IP agents reach this process at; written into the kube-dns Endpoints */
  advertiseAddress: string;
  /** the cluster domain (default `cluster.local`) */
  domain?: string;
  /** `IP:port` to relay names outside the cluster domain to; without it they are refused */
  upstream?: string;
  /** the kube-dns Service's cluster IP (default 10.96.0.10) */
  clusterIP?: string;
  /** the informers' pause before listing again after a failed watch (default 1 s) */
  retryMs?: number;
}

const MAX_WRITE_ATTEMPTS = 5;
const WRITE = { fieldValidation: "Strict", dryRun: false } as const;

/** Cluster DNS in the control plane; see the module documentation. */
export class ClusterDns {
  readonly #store: Store;
  readonly #objects: Objects;
  readonly #records: ClusterRecords;
  readonly #server: ClusterDnsServer;
  readonly #services: Informer;
  readonly #endpoints: Informer;
  readonly #advertiseAddress: string;
  readonly #clusterIP: string;
  #started = false;

  constructor(options: ClusterDnsOptions) {
    const clusterIP = options.clusterIP ?? DEFAULT_CLUSTER_DNS_IP;
    if (isIP(options.advertiseAddress) === 0) {
      throw new Error(
        `Cannot run cluster DNS: advertise address '${options.advertiseAddress}' is not an IP`,
      );
    }
    if (isIP(clusterIP) === 0) {
      throw new Error(`Cannot run cluster DNS: cluster IP '${clusterIP}' is not an IP`);
    }
    this.#store = options.store;
    this.#objects = new Objects(options.store);
    this.#advertiseAddress = options.advertiseAddress;
    this.#clusterIP = clusterIP;
    this.#records = new ClusterRecords({ domain: options.domain ?? DEFAULT_CLUSTER_DOMAIN });
    this.#server = new ClusterDnsServer({
      records: this.#records,
      hostname: options.listen.hostname,
      port: options.listen.port,
      ...(options.upstream ? { upstream: options.upstream } : {}),
    });
    const informer = (kind: string) =>
      new Informer({
        store: options.store,
        prefix: storePrefix(findKind("v1", kind)!),
        name: `cluster dns ${kind}`,
        ...(options.retryMs !== undefined ? { retryMs: options.retryMs } : {}),
      });
    this.#services = informer("Service");
    this.#services.onEvent((ev) => this.#onService(ev));
    this.#endpoints = informer("Endpoints");
    this.#endpoints.onEvent((ev) => this.#onEndpoints(ev));
  }

  /** Where the DNS server listens (the real port when 0 was asked for). */
  get address(): DnsAddress {
    return this.#server.address;
  }

  /**
   * Fill the zone from the store, start serving, then create or update the kube-dns Service
   * and Endpoints. Throws (having stopped again) when any step fails, e.g. the configured
   * cluster IP is taken by another Service.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error("ClusterDns is already started");
    this.#started = true;
    try {
      await this.#services.start();
      await this.#endpoints.start();
      await this.#server.start();
      await this.#ensureService();
      await this.#ensureEndpoints();
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Stop serving and following the store. The kube-dns objects stay. */
  async stop(): Promise<void> {
    await this.#server.stop();
    await this.#services.stop();
    await this.#endpoints.stop();
  }

  #onService(ev: InformerEvent): void {
    const { namespace, name } = ev.object.metadata;
    if (ev.type === "delete") this.#records.removeService(namespace!, name!);
    else this.#records.applyService(ev.object as Service);
  }

  #onEndpoints(ev: InformerEvent): void {
    const { namespace, name } = ev.object.metadata;
    if (ev.type === "delete") this.#records.removeEndpoints(namespace!, name!);
    else this.#records.applyEndpoints(ev.object as Endpoints);
  }

  /** The kube-dns Service as configured (no selector: its Endpoints are ours to write). */
  #desiredService(): KubeObject {
    const targetPort = this.#server.address.port;
    return {
      apiVersion: "v1",
      kind: "Service",
      metadata: { ...KUBE_DNS, labels: { "k8s-app": "kube-dns" } },
      spec: {
        type: "ClusterIP",
        clusterIP: this.#clusterIP,
        clusterIPs: [this.#clusterIP],
        ports: [
          { name: "dns", protocol: "UDP", port: 53, targetPort },
          { name: "dns-tcp", protocol: "TCP", port: 53, targetPort },
        ],
      },
    };
  }

  #desiredEndpoints(): KubeObject {
    const port = this.#server.address.port;
    return {
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { ...KUBE_DNS, labels: { "k8s-app": "kube-dns" } },
      subsets: [{
        addresses: [{ ip: this.#advertiseAddress }],
        ports: [
          { name: "dns", protocol: "UDP", port },
          { name: "dns-tcp", protocol: "TCP", port },
        ],
      }],
    };
  }

  /**
   * Create the Service, or bring an existing one to the desired labels, ports and no selector;
   * a Service with another cluster IP (immutable) is deleted and created again.
   */
  async #ensureService(): Promise<void> {
    const rt = findKind("v1", "Service")!;
    const desired = this.#desiredService();
    const spec = desired.spec as Service["spec"];
    await this.#converge(rt, desired, (current) => {
      const have = current.spec as Service["spec"];
      if (have.clusterIP !== spec.clusterIP) return "recreate";
      const ports = (have.ports ?? []).map(({ name, protocol, port, targetPort }) => ({
        name,
        protocol,
        port,
        targetPort,
      }));
      if (
        sameJson(ports, spec.ports) && have.selector === undefined && have.type === "ClusterIP" &&
        current.metadata.labels?.["k8s-app"] === "kube-dns"
      ) {
        return undefined;
      }
      const next = cloneJson(current);
      next.metadata.labels = { ...next.metadata.labels, "k8s-app": "kube-dns" };
      const nextSpec = next.spec as Service["spec"];
      nextSpec.type = "ClusterIP";
      nextSpec.ports = spec.ports;
      delete nextSpec.selector;
      return next;
    });
  }

  /** Create the Endpoints, or replace the subsets of an existing one. */
  async #ensureEndpoints(): Promise<void> {
    const rt = findKind("v1", "Endpoints")!;
    const desired = this.#desiredEndpoints();
    await this.#converge(rt, desired, (current) => {
      if (sameJson(current.subsets, desired.subsets)) return undefined;
      const next = cloneJson(current);
      next.metadata.labels = { ...next.metadata.labels, "k8s-app": "kube-dns" };
      next.subsets = desired.subsets;
      return next;
    });
  }

  /**
   * Create `desired`, or ask `change(current)` for the object to write instead (undefined:
   * nothing to do; "recreate": delete, then create). Retries a lost race a few times.
   */
  async #converge(
    rt: ResourceType,
    desired: KubeObject,
    change: (current: KubeObject) => KubeObject | "recreate" | undefined,
  ): Promise<void> {
    const { namespace, name } = KUBE_DNS;
    let failure: unknown;
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      try {
        const current = await this.#store.get(storeKey(rt, namespace, name));
        if (!current) {
          await this.#objects.create(rt, namespace, cloneJson(desired), WRITE);
          return;
        }
        const next = change(current);
        if (next === undefined) return;
        if (next === "recreate") {
          await this.#objects.delete(rt, namespace, name, {
            dryRun: false,
            preconditions: { resourceVersion: current.metadata.resourceVersion! },
          });
          failure = new Error("it was deleted to change its cluster IP, but is still there");
          continue;
        }
        await this.#objects.update(rt, namespace, name, next, WRITE);
        return;
      } catch (e) {
        const raced = e instanceof ApiError &&
          (e.reason === "Conflict" || e.reason === "AlreadyExists" || e.reason === "NotFound");
        failure = e;
        if (!raced) break;
      }
    }
    throw new Error(`Cannot write ${rt.kind} ${namespace}/${name}: ${errorMessage(failure)}`, {
      cause: failure,
    });
  }
}
