/**
 * The node agent (our kubelet): registers the Node and renews its Lease, watches the pods bound
 * to it, runs one {@linkcode PodWorker} per pod on the container runtime, reports pod status
 * and kubelet's pod Events, and serves container logs.
 *
 * Edge autonomy: the pods assigned to this node, their ConfigMaps/Secrets and the last
 * resourceVersion live in a local Deno KV cache. When the control plane is unreachable, or the
 * agent restarts while it is, the agent works from that cache: running containers are adopted
 * (found by label, never recreated), crashed ones are restarted, and when the control plane
 * returns the watch resumes from the cached resourceVersion. Stopping the agent never stops pods.
 *
 * Networking: at start the agent reads the cluster's network settings (ConfigMap
 * `kube-system/cluster-network`, see node/cluster_network.ts), waits (bounded) for its Node's
 * `spec.podCIDR` and makes its podman pod network on it; every sandbox but host-network ones
 * joins that network, with the pod's resolv.conf from its `dnsPolicy` (node/pod_dns.ts).
 * It follows the Nodes to keep routes to the other nodes' pod CIDRs (node/node_network.ts),
 * and keeps caches of the Services and Endpoints of all namespaces ({@linkcode Agent.services},
 * {@linkcode Agent.endpoints}): they give containers their service environment variables
 * (node/service_env.ts) and feed the service proxy.
 *
 * Storage: the agent keeps caches of the PersistentVolumeClaims, PersistentVolumes and
 * StorageClasses (kept in the local cache too, so a restarted agent cut off from the control
 * plane still mounts its pods' claims). A pod gets no sandbox until each claim it mounts is
 * bound to a volume (node/volumes.ts `resolveClaims`; it is asked again as soon as one of its
 * claims or their volumes changes); its claims are bind-mounted from their volumes' host
 * directories. The agent also runs the local-path provisioner (node/local_path.ts), which
 * makes and deletes the volumes of class `edge.io/local-path` on this node.
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import type { PodmanRunner } from "../net/pod_network.ts";
import { parseIPv4 } from "../net/ipv4.ts";
import { isPlainObject, type KubeObject } from "../storage/object.ts";
import { ApiError } from "../storage/status.ts";
import { ApiClient } from "./api_client.ts";
import { CachedRuntime } from "./cached_runtime.ts";
import {
  CLUSTER_NETWORK_CONFIGMAP,
  type ClusterNetwork,
  clusterNetworkFrom,
  type ClusterNetworkOverrides,
  isClusterDomain,
} from "./cluster_network.ts";
import { EventRecorder } from "./events.ts";
import { LocalPathProvisioner } from "./local_path.ts";
import { logHandler } from "./log_server.ts";
import { runCommand } from "./_podman_command.ts";
import { NodeNetwork } from "./node_network.ts";
import { nodeObject, readMachineInfo } from "./node_status.ts";
import { ObjectCache } from "./object_cache.ts";
import { ServiceProxy } from "./service_proxy.ts";
import { NftFirewall } from "../net/firewall.ts";
import { ensureServingPki } from "../net/pki.ts";
import {
  needsOwnResolvConf,
  parseResolvConf,
  podDnsConfig,
  type ResolvConf,
  resolvConfText,
} from "./pod_dns.ts";
import { PodmanRuntime } from "./podman_runtime.ts";
import { type PodInputs, PodWorker, type VolumesNotReady } from "./pod_worker.ts";
import { QuietTimer } from "./memory_trim.ts";
import { Reflector } from "./reflector.ts";
import { NodeHeartbeat } from "./registration.ts";
import { type ContainerRuntime, RuntimeError } from "./runtime.ts";
import { serviceEnvVars } from "./service_env.ts";
import { appArmorAdmission, appArmorEnabled } from "./security.ts";
import { SysctlAllowlist } from "./sysctls.ts";
import {
  type ClaimLookup,
  makeSubPath,
  podDir,
  prepareVolumes,
  referencedSources,
  removePodDir,
  resolveClaims,
} from "./volumes.ts";
import {
  LOCAL_PATH_PROVISIONER,
  podClaimNames,
  volumeClaimRef,
} from "../storage/persistent_volumes.ts";

/** The version the agent reports as kubeletVersion. */
export const AGENT_VERSION = "v1.32.0-edge";

/** Options of {@linkcode Agent}. */
export interface AgentOptions {
  /** API server URL, e.g. `https://127.0.0.1:6443` */
  server: string;
  token: string;
  /** PEM of the cluster CA */
  caCert?: string;
  nodeName: string;
  /** the agent's own state: cache, containers.conf, pod volumes */
  dataDir: string;
  /** where the log endpoint listens (`hostname`, `port`; port 0 = any) */
  listen: { hostname: string; port: number };
  /** the node's InternalIP (default: the first non-loopback IPv4 address) */
  nodeIp?: string;
  /** extra Node labels */
  labels?: Record<string, string>;
  /** the container runtime (default podman with the agent's containers.conf) */
  runtime?: ContainerRuntime;
  clock?: Clock;
  /**
   * how often workers look at the runtime for exited containers, and how long one node-wide
   * listing answers them (default 1 s)
   */
  relistMs?: number;
  /** how often orphaned sandboxes are looked for while connected (default 10 s) */
  sweepMs?: number;
  /**
   * manage the node's pod network (a podman network on the Node's podCIDR, routes to the
   * other nodes' pod CIDRs); default: yes with podman, no with a given `runtime`
   */
  podNetwork?: boolean;
  /**
   * program this node's service rules (nftables table `ip edge-proxy`) from the Services and
   * Endpoints; default: yes with podman, no with a given `runtime`
   */
  serviceProxy?: boolean;
  /**
   * containers naming no seccomp profile run with the runtime's default (kubelet's
   * `--seccomp-default`); default false: Unconfined, as in Kubernetes
   */
  seccompDefault?: boolean;
  /**
   * sysctls beyond the safe ones that pods may set: names, or prefixes ending in `*`
   * (kubelet's `--allowed-unsafe-sysctls`); a pod setting any other fails (SysctlForbidden)
   */
  allowedUnsafeSysctls?: string[];
  /** how long start waits for the Node's podCIDR and pod network (default 20 s) */
  podCidrWaitMs?: number;
  /** the cluster DNS IP and domain, over ConfigMap kube-system/cluster-network */
  clusterNetwork?: ClusterNetworkOverrides;
  /** the node's resolver configuration (default /etc/resolv.conf) */
  resolvConf?: string;
  /**
   * `call` runs once this node's pods have not changed for `quietMs` (default 60 s) after they
   * did: the moment to give back the memory starting and stopping them used (`mod.ts` runs
   * `trimMemory()` there)
   */
  whenPodsQuiet?: { quietMs?: number; call: () => void };
}

/** How long a container start waits for the first list of Services (kubelet refuses sooner). */
const SERVICES_SYNC_WAIT_MS = 10_000;
/** How long a pod with claims waits for the first list of claims and volumes. */
const STORAGE_SYNC_WAIT_MS = 10_000;

function podKey(ns: string | undefined, name: string | undefined): string {
  return `${ns ?? ""}/${name ?? ""}`;
}

/** A running node agent. */
export class Agent {
  readonly #o: AgentOptions;
  readonly #clock: Clock;
  readonly #podsQuiet: QuietTimer | undefined;
  readonly #sysctls: SysctlAllowlist;
  /** whether this host enforces AppArmor (read at start) */
  #appArmor = false;
  readonly #client: ApiClient;
  readonly #events: EventRecorder;
  readonly #workers = new Map<string, { worker: PodWorker; pod: KubeObject }>();
  readonly #reported = new Map<string, string>();
  readonly #pods = new Map<string, KubeObject>();
  #runtime!: ContainerRuntime;
  #cache!: Deno.Kv;
  #heartbeat!: NodeHeartbeat;
  #reflector!: Reflector;
  #server!: Deno.HttpServer<Deno.NetAddr>;
  #nodeIp = "";
  #clusterNetwork!: ClusterNetwork;
  #hostDns: ResolvConf = { nameservers: [], searches: [], options: [] };
  #nodes!: ObjectCache;
  #services!: ObjectCache;
  #endpoints!: ObjectCache;
  /** the CA of the log endpoint's certificate, published on the Node */
  #servingCa = "";
  #claims!: ObjectCache;
  #volumes!: ObjectCache;
  #classes!: ObjectCache;
  #provisioner: LocalPathProvisioner | undefined;
  readonly #provisionerEvents: EventRecorder;
  /** by pod uid: the volume each claim of the pod was mounted from (kept while it runs) */
  readonly #mounted = new Map<string, Record<string, KubeObject>>();
  /** pod uid → its volume directories already given to its fsGroup (see prepareVolumes) */
  readonly #owned = new Map<string, Set<string>>();
  readonly #claimLookup: ClaimLookup = {
    claim: (namespace, name) => this.#claims.get(namespace, name),
    volume: (name) => this.#volumes.get("", name),
  };
  #nodeNetwork: NodeNetwork | undefined;
  #serviceProxy: ServiceProxy | undefined;
  #stopped = false;
  readonly #abort = new AbortController();
  #sweeping: Promise<void> | undefined;

  constructor(options: AgentOptions) {
    const { clusterDNS, clusterDomain } = options.clusterNetwork ?? {};
    if (clusterDNS !== undefined && parseIPv4(clusterDNS) === undefined) {
      throw new Error(`the cluster DNS must be an IPv4 address, got "${clusterDNS}"`);
    }
    if (clusterDomain !== undefined && !isClusterDomain(clusterDomain)) {
      throw new Error(`the cluster domain must be a DNS domain, got "${clusterDomain}"`);
    }
    this.#sysctls = SysctlAllowlist.parse(options.allowedUnsafeSysctls ?? []);
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#podsQuiet = options.whenPodsQuiet
      ? new QuietTimer(
        this.#clock,
        options.whenPodsQuiet.quietMs ?? 60_000,
        options.whenPodsQuiet.call,
      )
      : undefined;
    this.#client = new ApiClient({
      server: options.server,
      token: options.token,
      ...(options.caCert ? { caCert: options.caCert } : {}),
    });
    this.#events = new EventRecorder({
      client: this.#client,
      clock: this.#clock,
      nodeName: options.nodeName,
    });
    this.#provisionerEvents = new EventRecorder({
      client: this.#client,
      clock: this.#clock,
      nodeName: options.nodeName,
      component: `${LOCAL_PATH_PROVISIONER}_${options.nodeName}`,
    });
  }

  /** The address of the log endpoint. */
  get address(): Deno.NetAddr {
    return this.#server.addr;
  }

  /** This node's name. */
  get nodeName(): string {
    return this.#o.nodeName;
  }

  /** This node's InternalIP. */
  get nodeIp(): string {
    return this.#nodeIp;
  }

  /** The cluster's network settings the agent started with. */
  get clusterNetwork(): Readonly<ClusterNetwork> {
    return this.#clusterNetwork;
  }

  /** Every Node of the cluster, kept current; set by {@linkcode start}. */
  get nodes(): ObjectCache {
    return this.#nodes;
  }

  /** Every Service of the cluster (all namespaces), kept current; set by {@linkcode start}. */
  get services(): ObjectCache {
    return this.#services;
  }

  /** Every Endpoints object of the cluster (all namespaces), kept current. */
  get endpoints(): ObjectCache {
    return this.#endpoints;
  }

  /** Every PersistentVolumeClaim of the cluster (all namespaces), kept current. */
  get persistentVolumeClaims(): ObjectCache {
    return this.#claims;
  }

  /** Every PersistentVolume of the cluster, kept current. */
  get persistentVolumes(): ObjectCache {
    return this.#volumes;
  }

  /** Every StorageClass of the cluster, kept current. */
  get storageClasses(): ObjectCache {
    return this.#classes;
  }

  /**
   * The watch of this node's pods: the last resourceVersion seen (kept in the local cache for
   * the next start) and how many times it has listed them. An agent restarted with a kept
   * resourceVersion resumes the watch there and lists only if the server has compacted it.
   */
  get podsWatch(): { resourceVersion: string; lists: number } {
    return {
      resourceVersion: this.#reflector?.resourceVersion ?? "",
      lists: this.#reflector?.lists ?? 0,
    };
  }

  /** The podman network new sandboxes join, undefined while it is not ready. */
  get podNetwork(): string | undefined {
    return this.#nodeNetwork?.podNetwork;
  }

  /** Start everything; pods from the local cache start before the control plane is reached. */
  async start(): Promise<void> {
    const dir = this.#o.dataDir;
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    this.#appArmor = await appArmorEnabled();
    let runtime = this.#o.runtime;
    if (!runtime) {
      await PodmanRuntime.writeContainersConf(`${dir}/containers.conf`);
      runtime = new PodmanRuntime({ configPath: `${dir}/containers.conf` });
    }
    // One node-wide relist per period, shared by every worker (see node/cached_runtime.ts).
    this.#runtime = new CachedRuntime({
      runtime,
      node: this.#o.nodeName,
      clock: this.#clock,
      ttlMs: this.#o.relistMs ?? 1_000,
    });
    this.#cache = await Deno.openKv(`${dir}/agent.kv`);
    const machine = await readMachineInfo();
    this.#nodeIp = this.#o.nodeIp ?? machine.internalIp;
    // kubelet's port serves HTTPS: the API server sends its token here, and checks the
    // certificate against the CA this node publishes on its Node object
    const pki = await ensureServingPki(`${dir}/pki`, [this.#nodeIp, this.#o.nodeName], {
      ca: "edge-agent-ca",
      server: `system:node:${this.#o.nodeName}`,
    });
    this.#servingCa = pki.caCert;
    this.#server = Deno.serve(
      {
        hostname: this.#o.listen.hostname,
        port: this.#o.listen.port,
        cert: pki.cert,
        key: pki.key,
        onListen: () => {},
      },
      logHandler({
        runtime: this.#runtime,
        token: this.#o.token,
        findPod: (ns, name) => this.#pods.get(podKey(ns, name)),
      }),
    );

    // What the last run knew, so pods from the local cache start before the control plane
    // is reached: network settings, the pod network, Services and Endpoints.
    const saved = await this.#cache.get<Record<string, string>>(["cluster-network"]);
    this.#clusterNetwork = clusterNetworkFrom(saved.value ?? undefined, this.#o.clusterNetwork)
      .network;
    this.#hostDns = await this.#readHostDns();
    const open = (path: string, prefix?: string) =>
      ObjectCache.open({
        client: this.#client,
        path,
        clock: this.#clock,
        ...(prefix ? { persist: { kv: this.#cache, prefix } } : {}),
      });
    this.#nodes = await open("/api/v1/nodes");
    this.#services = await open("/api/v1/services", "services");
    this.#endpoints = await open("/api/v1/endpoints", "endpoints");
    this.#claims = await open("/api/v1/persistentvolumeclaims", "persistentvolumeclaims");
    this.#volumes = await open("/api/v1/persistentvolumes", "persistentvolumes");
    this.#classes = await open("/apis/storage.k8s.io/v1/storageclasses", "storageclasses");
    this.#claims.subscribe((_, claim) =>
      this.#claimChanged(claim.metadata.namespace ?? "", claim.metadata.name ?? "")
    );
    this.#volumes.subscribe((_, volume) => {
      const ref = volumeClaimRef(volume);
      if (ref) this.#claimChanged(ref.namespace, ref.name);
    });
    if (this.#o.podNetwork ?? this.#o.runtime === undefined) {
      this.#nodeNetwork = new NodeNetwork({
        nodeName: this.#o.nodeName,
        clusterCidr: () => this.#clusterNetwork.clusterCIDR,
        nodes: this.#nodes,
        podman: this.#podmanRunner(`${dir}/containers.conf`),
        clock: this.#clock,
        onNetwork: () => this.#serviceProxy?.refreshNode(),
      });
      await this.#nodeNetwork.adoptExisting();
    }

    const cached = await this.#loadCache();
    for (const pod of cached.pods) this.#upsert(pod);

    const runtimeVersion = await this.#runtime.version();
    this.#heartbeat = new NodeHeartbeat({
      client: this.#client,
      nodeName: this.#o.nodeName,
      clock: this.#clock,
      node: async (now) =>
        nodeObject({ ...machine, internalIp: this.#nodeIp }, {
          name: this.#o.nodeName,
          labels: this.#o.labels ?? {},
          containerRuntimeVersion: runtimeVersion,
          agentPort: this.#server.addr.port,
          servingCa: this.#servingCa,
          images: await this.#runtime.listImages().catch(() => []),
          version: AGENT_VERSION,
        }, now),
    });
    await this.#heartbeat.start(false);

    await this.#readClusterNetwork();
    this.#nodes.start();
    this.#services.start();
    this.#endpoints.start();
    this.#claims.start();
    this.#volumes.start();
    this.#classes.start();
    this.#provisioner = new LocalPathProvisioner({
      nodeName: this.#o.nodeName,
      dataDir: dir,
      client: this.#client,
      claims: this.#claims,
      volumes: this.#volumes,
      classes: this.#classes,
      events: this.#provisionerEvents.record,
      clock: this.#clock,
    });
    this.#provisioner.start();
    if (this.#o.serviceProxy ?? this.#o.runtime === undefined) {
      this.#serviceProxy = new ServiceProxy({
        services: this.#services,
        endpoints: this.#endpoints,
        node: () => ({
          name: this.#o.nodeName,
          nodeIPs: [this.#nodeIp],
          clusterCIDR: this.#clusterNetwork.clusterCIDR,
          serviceCIDR: this.#clusterNetwork.serviceCIDR,
          // hairpin: only endpoints on this node's pod network can reach themselves here
          ...(this.#nodeNetwork?.networkCidr ? { podCIDR: this.#nodeNetwork.networkCidr } : {}),
        }),
        firewall: new NftFirewall(),
        clock: this.#clock,
      });
      this.#serviceProxy.start();
    }
    if (this.#nodeNetwork) {
      this.#nodeNetwork.start();
      if (!this.#nodeNetwork.podNetwork) {
        const waitMs = this.#o.podCidrWaitMs ?? 20_000;
        if (!await this.#nodeNetwork.waitForPodNetwork(waitMs)) {
          console.log(
            `agent: no pod network after ${Math.round(waitMs / 1000)} s: pods join podman's ` +
              `default network until Node ${this.#o.nodeName} has a podCIDR`,
          );
        }
      }
    }

    this.#reflector = new Reflector({
      client: this.#client,
      path: "/api/v1/pods",
      query: { fieldSelector: `spec.nodeName=${this.#o.nodeName}` },
      clock: this.#clock,
      ...(cached.resourceVersion
        ? { resumeFrom: { resourceVersion: cached.resourceVersion, objects: cached.pods } }
        : {}),
      onChange: (type, pod) => {
        if (type === "DELETED") this.#forget(pod);
        else this.#upsert(pod);
        this.#saveResourceVersion();
      },
      onSynced: () => this.#sweep(),
    });
    this.#reflector.start();
    this.#sweeping = this.#sweepLoop();
  }

  /** podman with the agent's containers.conf, for the pod network. */
  #podmanRunner(configPath: string): PodmanRunner {
    return async (args) =>
      await runCommand("podman", args, { timeoutMs: 30_000, env: { CONTAINERS_CONF: configPath } });
  }

  async #readHostDns(): Promise<ResolvConf> {
    const path = this.#o.resolvConf ?? "/etc/resolv.conf";
    try {
      return parseResolvConf(await Deno.readTextFile(path));
    } catch (e) {
      console.error(`agent: cannot read ${path} (pods with dnsPolicy Default get none):`, e);
      return { nameservers: [], searches: [], options: [] };
    }
  }

  /**
   * The cluster's network settings from ConfigMap kube-system/cluster-network, kept for the
   * next start; without it, the copy kept last time or the defaults.
   */
  async #readClusterNetwork(): Promise<void> {
    const { namespace, name } = CLUSTER_NETWORK_CONFIGMAP;
    const where = `ConfigMap ${namespace}/${name}`;
    let data: Record<string, string> | undefined;
    let source: string;
    try {
      const cm = await this.#client.get(`/api/v1/namespaces/${namespace}/configmaps/${name}`);
      if (cm) {
        data = isPlainObject(cm.data) ? cm.data as Record<string, string> : {};
        source = where;
        await this.#cache.set(["cluster-network"], data);
      } else {
        source = `defaults (${where} does not exist yet)`;
      }
    } catch (e) {
      data = (await this.#cache.get<Record<string, string>>(["cluster-network"])).value ??
        undefined;
      const why = e instanceof Error ? e.message : String(e);
      source = `${
        data ? "the copy kept from the last start" : "defaults"
      } (cannot read ${where}: ${why})`;
    }
    const { network, warnings } = clusterNetworkFrom(data, this.#o.clusterNetwork);
    for (const warning of warnings) console.error(`agent: cluster network: ${warning}`);
    this.#clusterNetwork = network;
    console.log(
      `agent: cluster network from ${source}: pods ${network.clusterCIDR}, services ` +
        `${network.serviceCIDR}, DNS ${network.clusterDNS} (${network.clusterDomain})`,
    );
  }

  /**
   * Remove orphaned sandboxes whenever the pod list is known to be current: after each relist
   * and periodically while connected (a resumed watch never relists, and a cleanup that an
   * agent restart interrupted must still finish).
   */
  async #sweepLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      await this.#clock.sleep(this.#o.sweepMs ?? 10_000, signal);
      if (signal.aborted) break;
      if (this.#reflector.connected && this.#reflector.resourceVersion) this.#sweep();
    }
  }

  #sweep(): void {
    this.#removeOrphans().catch((e) => console.error("agent: orphan cleanup:", e));
  }

  /** Stop the agent. Pods keep running; a restarted agent adopts them. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#podsQuiet?.stop();
    this.#abort.abort();
    await this.#sweeping;
    await this.#reflector?.stop();
    await this.#nodeNetwork?.stop();
    await this.#serviceProxy?.stop();
    await this.#provisioner?.stop();
    await Promise.all(
      [this.#nodes, this.#services, this.#endpoints, this.#claims, this.#volumes, this.#classes]
        .map((cache) => cache?.stop()),
    );
    await this.#heartbeat?.stop();
    for (const { worker } of this.#workers.values()) worker.close();
    this.#events.close();
    this.#provisionerEvents.close();
    await this.#server?.shutdown();
    this.#cache?.close();
    this.#client.close();
  }

  async #loadCache(): Promise<{ pods: KubeObject[]; resourceVersion: string }> {
    const pods: KubeObject[] = [];
    for await (const entry of this.#cache.list<KubeObject>({ prefix: ["pod"] })) {
      pods.push(entry.value);
    }
    const rv = await this.#cache.get<string>(["rv"]);
    return { pods, resourceVersion: rv.value ?? "" };
  }

  #saveResourceVersion(): void {
    const rv = this.#reflector?.resourceVersion;
    if (rv) this.#cache.set(["rv"], rv).catch(() => {});
  }

  /** A pod was added or changed: remember it and (re)sync its worker. */
  #upsert(pod: KubeObject): void {
    if (this.#stopped) return;
    this.#podsQuiet?.touch();
    const uid = pod.metadata.uid!;
    this.#pods.set(podKey(pod.metadata.namespace, pod.metadata.name), pod);
    this.#cache.set(["pod", uid], pod).catch(() => {});
    let entry = this.#workers.get(uid);
    if (!entry) {
      const worker = new PodWorker({
        runtime: this.#runtime,
        clock: this.#clock,
        nodeName: this.#o.nodeName,
        hostIP: this.#nodeIp,
        inputs: (p) => this.#inputs(p),
        volumesReady: (p) => this.#volumesReady(p),
        makeSubPath,
        dns: (p) => this.#podDns(p),
        network: () => this.#nodeNetwork?.podNetwork,
        subnet: () => this.#nodeNetwork?.networkCidr,
        clusterDomain: () => this.#clusterNetwork.clusterDomain,
        terminationDir: (p) => `${podDir(this.#o.dataDir, p.metadata.uid!)}/termination`,
        security: {
          seccompDefault: this.#o.seccompDefault === true,
          seccompDir: absolute(`${this.#o.dataDir}/seccomp`),
          appArmor: this.#appArmor,
        },
        admit: (p) => this.#sysctls.admit(p) ?? appArmorAdmission(p, this.#appArmor),
        onStatus: (status) => this.#afterSync(uid, status),
        events: this.#events.record,
        ...(this.#o.relistMs ? { relistMs: this.#o.relistMs } : {}),
      });
      entry = { worker, pod };
      this.#workers.set(uid, entry);
    }
    entry.pod = pod;
    const worker = entry.worker;
    worker.sync(pod).then((status) => this.#afterSync(uid, status))
      .catch((e) => console.error(`agent: sync ${pod.metadata.name}:`, e));
  }

  /**
   * After any sync of a pod's worker, ours or one it ran by itself (a probe, a timer, the
   * end of a termination that began in an earlier sync): report the status, and once a pod
   * being deleted has stopped, delete it for good.
   */
  async #afterSync(uid: string, status: unknown): Promise<void> {
    const entry = this.#workers.get(uid);
    if (!entry) return;
    await this.#report(entry.pod, status);
    if (entry.pod.metadata.deletionTimestamp && entry.worker.terminated) {
      await this.#finishDeletion(entry.pod);
    }
  }

  /**
   * A claim changed, or a volume naming it: pods waiting for it to be bound are asked again at
   * once instead of at their next relist.
   */
  #claimChanged(namespace: string, name: string): void {
    for (const [uid, { worker, pod }] of this.#workers) {
      if (!worker.waitingForVolumes || pod.metadata.namespace !== namespace) continue;
      if (!podClaimNames(pod).includes(name)) continue;
      worker.sync(pod).then((status) => this.#afterSync(uid, status))
        .catch((e) => console.error(`agent: sync ${pod.metadata.name}:`, e));
    }
  }

  /** The pod is gone from the API: stop its containers, drop its state. */
  #forget(pod: KubeObject): void {
    if (!this.#stopped) this.#podsQuiet?.touch();
    const uid = pod.metadata.uid!;
    this.#pods.delete(podKey(pod.metadata.namespace, pod.metadata.name));
    const entry = this.#workers.get(uid);
    this.#workers.delete(uid);
    this.#reported.delete(uid);
    this.#mounted.delete(uid);
    this.#owned.delete(uid);
    this.#cache.delete(["pod", uid]).catch(() => {});
    (async () => {
      if (entry && !entry.worker.terminated) await entry.worker.terminate(pod);
      entry?.worker.close();
      await this.#runtime.removeSandbox(uid);
      await removePodDir(this.#o.dataDir, uid);
    })().catch((e) => console.error(`agent: cleanup ${pod.metadata.name}:`, e));
  }

  /** After graceful termination, delete the pod object for good (grace 0, uid precondition). */
  async #finishDeletion(pod: KubeObject): Promise<void> {
    const path = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`;
    try {
      await this.#client.delete(path, {
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      });
    } catch (e) {
      // already gone, or a new pod of the same name
      if (!(e instanceof ApiError && (e.reason === "Conflict" || e.reason === "NotFound"))) throw e;
    }
  }

  /** Containers of pods this node no longer runs are removed once the API has been listed. */
  async #removeOrphans(): Promise<void> {
    const live = new Set(this.#reflector.items().map((p) => p.metadata.uid));
    for (const sandbox of await this.#runtime.listSandboxes(this.#o.nodeName)) {
      if (live.has(sandbox.podUid)) continue;
      const entry = this.#workers.get(sandbox.podUid);
      this.#workers.delete(sandbox.podUid);
      this.#mounted.delete(sandbox.podUid);
      this.#owned.delete(sandbox.podUid);
      entry?.worker.close();
      await this.#runtime.removeSandbox(sandbox.podUid);
      await removePodDir(this.#o.dataDir, sandbox.podUid);
      await this.#cache.delete(["pod", sandbox.podUid]);
    }
  }

  /** Send a pod's status when it changed since the last successful report. */
  async #report(pod: KubeObject, status: unknown): Promise<void> {
    const uid = pod.metadata.uid!;
    if (!this.#workers.has(uid) || this.#stopped) return;
    const text = JSON.stringify(status);
    if (this.#reported.get(uid) === text) return;
    const path = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`;
    try {
      await this.#client.patch(path, [
        { op: "test", path: "/metadata/uid", value: uid },
        { op: "add", path: "/status", value: status },
      ], "application/json-patch+json");
      this.#reported.set(uid, text);
    } catch {
      // Unreachable control plane or a replaced pod: the next sync reports again.
    }
  }

  /** The pod's resolv.conf; what kubelet reports as DNSConfigForming events goes to the log. */
  #podDns(pod: KubeObject): ResolvConf {
    const { dns, warnings } = podDnsConfig(pod, {
      clusterDNS: this.#clusterNetwork.clusterDNS,
      clusterDomain: this.#clusterNetwork.clusterDomain,
      host: this.#hostDns,
    });
    for (const w of warnings) {
      console.error(`agent: pod ${pod.metadata.namespace}/${pod.metadata.name}: ${w}`);
    }
    return dns;
  }

  /**
   * The service environment variables of a pod's containers. Like kubelet, a container is not
   * made before the Services were listed once (or loaded from the local copy), or a pod would
   * miss KUBERNETES_SERVICE_HOST.
   */
  async #serviceEnv(pod: KubeObject): Promise<Map<string, string>> {
    if (!await this.#services.waitSynced(SERVICES_SYNC_WAIT_MS, this.#abort.signal)) {
      throw new RuntimeError(
        "CreateContainerConfigError",
        "services have not yet been read at least once, cannot construct envvars",
      );
    }
    const ns = pod.metadata.namespace ?? "default";
    const links = (pod.spec as { enableServiceLinks?: boolean }).enableServiceLinks !== false;
    const services = ns === "default"
      ? this.#services.list(ns)
      : [...this.#services.list(ns), ...this.#services.list("default")];
    return serviceEnvVars(services, ns, links);
  }

  /** ConfigMaps, Secrets and volume directories for a pod, from the API or the local cache. */
  async #inputs(pod: KubeObject): Promise<PodInputs> {
    const ns = pod.metadata.namespace!;
    const refs = referencedSources(pod);
    const configMaps: Record<string, Record<string, string>> = {};
    const secrets: Record<string, Record<string, string>> = {};
    for (
      const [kind, names, into] of [
        ["configmaps", refs.configMaps, configMaps],
        ["secrets", refs.secrets, secrets],
      ] as const
    ) {
      for (const name of names) {
        const data = await this.#fetchData(kind, ns, name);
        if (data) into[name] = data;
      }
    }
    const claims = this.#claimVolumes(pod);
    const uid = pod.metadata.uid!;
    let owned = this.#owned.get(uid);
    if (!owned) this.#owned.set(uid, owned = new Set());
    const volumeDirs = await prepareVolumes(this.#o.dataDir, pod, {
      configMaps,
      secrets,
      owned,
      ...(claims ? { claims } : {}),
    });
    const inputs: PodInputs = {
      configMaps,
      secrets,
      volumeDirs,
      serviceEnv: await this.#serviceEnv(pod),
    };
    if (needsOwnResolvConf(pod)) {
      const dir = podDir(this.#o.dataDir, pod.metadata.uid!);
      await Deno.mkdir(dir, { recursive: true });
      inputs.resolvConf = `${dir}/resolv.conf`;
      await Deno.writeTextFile(inputs.resolvConf, resolvConfText(this.#podDns(pod)), {
        mode: 0o644,
      });
    }
    return inputs;
  }

  /**
   * Whether the pod's claims can be mounted (each Bound to a volume that names it). Like the
   * service variables, this waits (bounded) for the first list of claims and volumes.
   */
  async #volumesReady(pod: KubeObject): Promise<VolumesNotReady | undefined> {
    if (podClaimNames(pod).length === 0) return undefined;
    for (const cache of [this.#claims, this.#volumes]) {
      await cache.waitSynced(STORAGE_SYNC_WAIT_MS, this.#abort.signal);
    }
    return resolveClaims(pod, this.#claimLookup).notReady;
  }

  /**
   * The volume of each claim the pod mounts. A claim keeps the volume it was first mounted
   * from while the pod lives, as kubelet keeps what it mounted, even if the claim changes.
   */
  #claimVolumes(pod: KubeObject): Record<string, KubeObject> | undefined {
    if (podClaimNames(pod).length === 0) return undefined;
    const uid = pod.metadata.uid!;
    const claims = { ...resolveClaims(pod, this.#claimLookup).claims, ...this.#mounted.get(uid) };
    this.#mounted.set(uid, claims);
    return claims;
  }

  async #fetchData(
    kind: "configmaps" | "secrets",
    ns: string,
    name: string,
  ): Promise<Record<string, string> | undefined> {
    const key = [kind, ns, name];
    try {
      const obj = await this.#client.get(`/api/v1/namespaces/${ns}/${kind}/${name}`);
      if (!obj) {
        await this.#cache.delete(key);
        return undefined;
      }
      const data = isPlainObject(obj.data) ? obj.data as Record<string, string> : {};
      await this.#cache.set(key, data);
      return data;
    } catch {
      return (await this.#cache.get<Record<string, string>>(key)).value ?? undefined;
    }
  }
}

/** `path` from the working directory when relative (podman may run elsewhere one day). */
function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path.replace(/^\.\//, "")}`;
}
