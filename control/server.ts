/**
 * The control-plane process: opens the Deno KV store in a data dir, makes sure the admin token,
 * kubeconfig, built-in namespaces and the default StorageClass exist, allocates Services' IPs
 * and node ports, admits claims and volumes (default class, protection finalizers), serves the
 * API, publishes the cluster network settings and the `default/kubernetes` Service, and runs the
 * controllers.
 *
 * @module
 */

import { RESOURCE_TYPES } from "../storage/registry.ts";
import { openKvStore } from "../storage/kv_store.ts";
import { ApiError } from "../storage/status.ts";
import { toYaml } from "../storage/yaml.ts";
import { createApiApp } from "./api/app.ts";
import { Objects } from "./api/objects.ts";
import { GarbageCollector } from "./garbage_collector.ts";
import { Scheduler } from "./scheduler/mod.ts";
import { NamespaceController } from "./namespace_controller.ts";
import { ensureServingPki } from "../net/pki.ts";
import { ControllerManager } from "./controller_manager.ts";
import { serveHttps } from "./https_server.ts";
import { LeaderElection } from "./leader.ts";
import { parseListen } from "./listen.ts";
import { type ClusterNetwork, resolveClusterNetwork } from "./allocators/cluster_network.ts";
import {
  type RunningServiceAllocator,
  startServiceAllocator,
} from "./allocators/service_allocator.ts";
import {
  bootstrapServices,
  pickAdvertiseAddress,
  publishClusterNetwork,
} from "./bootstrap_services.ts";
import { EventRecorder } from "./events.ts";
import { NodeIpamController } from "./node_ipam/controller.ts";
import { ClusterDns } from "./cluster_dns.ts";
import { errorMessage } from "./informer.ts";
import { ensureDefaultStorageClass, registerStorageAdmission } from "./volume/admission.ts";
import type { Store } from "../storage/store.ts";

export { parseListen };

/** Options of {@linkcode startControlPlane}. */
export interface ControlPlaneOptions {
  /** where state.kv, admin.token and kubeconfig live (created when missing) */
  dataDir: string;
  /** `HOST:PORT` to listen on; port 0 picks a free port */
  listen: string;
  /** request body limit in bytes */
  maxBodyBytes?: number;
  /** silence after which a node's conditions become Unknown (default 40 s) */
  nodeMonitorGracePeriodMs?: number;
  /** how long pods stay on an unreachable or not-ready node without a toleration (300) */
  defaultTolerationSeconds?: number;
  /** where Services' cluster IPs come from (default 10.96.0.0/16) */
  serviceCidr?: string;
  /** where node ports come from, `A-B` (default 30000-32767) */
  serviceNodePortRange?: string;
  /** where Nodes' pod CIDRs come from (default 10.244.0.0/16) */
  clusterCidr?: string;
  /** the prefix length of each Node's pod CIDR (default 24) */
  nodeCidrMaskSize?: number;
  /**
   * the IPv4 address other machines reach the API at, published in the Endpoints of
   * `default/kubernetes` (default: the listen host when it is a specific non-loopback IPv4
   * address, else the first non-loopback IPv4 address of this machine, else 127.0.0.1)
   */
  advertiseAddress?: string;
  /**
   * run cluster DNS in this process: `listen` is `HOST:PORT` (UDP and TCP; default the
   * advertised address, port 53), `upstream` an optional `IP:PORT` for names outside the
   * cluster domain. Without this option there is no cluster DNS.
   */
  clusterDns?: { listen?: string; upstream?: string };
}

/** A running control plane. */
export interface ControlPlane {
  /** e.g. `https://127.0.0.1:6443` */
  url: string;
  /** PEM of the CA that signed the serving certificate (clients trust it) */
  caCert: string;
  kubeconfigPath: string;
  token: string;
  /** the IPv4 address other machines reach this control plane at */
  advertiseAddress: string;
  /** the cluster's network settings, as published in ConfigMap `kube-system/cluster-network` */
  network: ClusterNetwork;
  /** where cluster DNS answers, when it runs */
  dnsAddress?: { hostname: string; port: number };
  /** stop serving, stop controllers, close the store */
  stop(): Promise<void>;
}

/** Namespaces every cluster has from its first start. */
export const BUILTIN_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

/**
 * This control plane's leader-election identity, `<hostname>_<random>`, kept in the data dir:
 * a restarted process is the same candidate and takes its Lease back at once.
 */
async function ensureIdentity(path: string): Promise<string> {
  try {
    const identity = (await Deno.readTextFile(path)).trim();
    if (/^[\w.-]+_[0-9a-f-]{36}$/.test(identity)) return identity;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const identity = `${Deno.hostname().replace(/[^\w.-]/g, "-")}_${crypto.randomUUID()}`;
  await Deno.writeTextFile(path, identity + "\n");
  return identity;
}

async function ensureToken(path: string): Promise<string> {
  try {
    const token = (await Deno.readTextFile(path)).trim();
    if (/^[0-9a-f]{64}$/.test(token)) return token;
    throw new Error(`${path} does not hold a valid token; remove it to generate a new one`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.writeTextFile(path, token + "\n", { mode: 0o600 });
  return token;
}

/** The kubeconfig an admin (or kubectl) uses to reach this control plane. */
export function kubeconfigFor(url: string, token: string, caCert: string): string {
  const caData = btoa(caCert);
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "edge", cluster: { server: url, "certificate-authority-data": caData } }],
    users: [{ name: "edge-admin", user: { token } }],
    contexts: [{
      name: "edge",
      context: { cluster: "edge", user: "edge-admin", namespace: "default" },
    }],
    "current-context": "edge",
    preferences: {},
  });
}

/** Start the control plane and return once it is serving. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const { hostname, port } = parseListen(options.listen);
  const network = resolveClusterNetwork({
    ...(options.serviceCidr !== undefined ? { serviceCidr: options.serviceCidr } : {}),
    ...(options.serviceNodePortRange !== undefined
      ? { nodePortRange: options.serviceNodePortRange }
      : {}),
    ...(options.clusterCidr !== undefined ? { clusterCidr: options.clusterCidr } : {}),
    ...(options.nodeCidrMaskSize !== undefined
      ? { nodeCidrMaskSize: options.nodeCidrMaskSize }
      : {}),
  });
  const advertiseAddress = pickAdvertiseAddress(
    options.advertiseAddress,
    hostname,
    Deno.networkInterfaces(),
  );
  await Deno.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const lock = await lockDataDir(options.dataDir);
  try {
    return await start(options, { hostname, port, network, advertiseAddress }, lock);
  } catch (e) {
    lock.close();
    throw e;
  }
}

/** One process owns a data dir: hold an exclusive lock on `<dir>/lock` while running. */
async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  const file = await Deno.open(`${dataDir}/lock`, { create: true, write: true });
  if (!(await file.tryLock(true))) {
    file.close();
    throw new Error(`data dir ${dataDir} is in use by another edge process`);
  }
  return file;
}

/** What {@linkcode startControlPlane} worked out from its options. */
interface Settings {
  hostname: string;
  port: number;
  network: ClusterNetwork;
  advertiseAddress: string;
}

async function start(
  options: ControlPlaneOptions,
  settings: Settings,
  lock: Deno.FsFile,
): Promise<ControlPlane> {
  const { hostname, port, network, advertiseAddress } = settings;
  const token = await ensureToken(`${options.dataDir}/admin.token`);
  const pki = await ensureServingPki(`${options.dataDir}/pki`, [
    "127.0.0.1",
    "::1",
    "localhost",
    hostname,
    Deno.hostname(),
    advertiseAddress,
    // how pods reach the API: the kubernetes Service's IP and names
    network.kubernetesServiceIP,
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    `kubernetes.default.svc.${network.clusterDomain}`,
  ]);
  const store = await openKvStore(`${options.dataDir}/state.kv`);
  let serviceAllocator: RunningServiceAllocator | undefined;
  let unregisterStorage: (() => void) | undefined;
  try {
    const objects = new Objects(store);
    const nsType = RESOURCE_TYPES.find((rt) => rt.group === "" && rt.kind === "Namespace")!;
    for (const name of BUILTIN_NAMESPACES) {
      try {
        await objects.create(nsType, undefined, {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name },
        }, { fieldValidation: "Strict", dryRun: false });
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === "AlreadyExists")) throw e;
      }
    }
    // before anything serves: every Service write (API or in process) allocates through it
    serviceAllocator = await startServiceAllocator(store, network);
    // likewise every claim and volume write: default class and protection finalizers
    unregisterStorage = registerStorageAdmission(store);
    await ensureDefaultStorageClass(objects);
    await publishClusterNetwork(objects, network);
  } catch (e) {
    unregisterStorage?.();
    await serviceAllocator?.stop();
    await store.close();
    throw e;
  }

  const objects = new Objects(store);
  const election = new LeaderElection({
    store,
    identity: await ensureIdentity(`${options.dataDir}/identity`),
  });
  const leading = Promise.withResolvers<void>();
  // The controllers and the scheduler act only while this process holds the leader Lease.
  const campaign = election.run(async (signal) => {
    const components = [
      new NamespaceController({ store, types: RESOURCE_TYPES }),
      new GarbageCollector({ store, types: RESOURCE_TYPES }),
      new NodeIpamController({
        store,
        clusterCidr: network.clusterCidr,
        nodeCidrMaskSize: network.nodeCidrMaskSize,
        events: new EventRecorder({ store, component: "node-ipam-controller" }),
      }),
      new Scheduler({
        store,
        types: RESOURCE_TYPES,
        objects,
      }),
      new ControllerManager({
        store,
        ...(options.nodeMonitorGracePeriodMs !== undefined
          ? { nodeMonitorGracePeriodMs: options.nodeMonitorGracePeriodMs }
          : {}),
        ...(options.defaultTolerationSeconds !== undefined
          ? { defaultTolerationSeconds: options.defaultTolerationSeconds }
          : {}),
      }),
    ];
    const started = [];
    try {
      for (const component of components) {
        await component.start();
        started.push(component);
      }
      leading.resolve();
      await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
    } finally {
      for (const component of started.reverse()) await component.stop();
    }
  });
  // Serve at once; a process that is not the leader (another holds the Lease) still serves.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    leading.promise,
    new Promise((resolve) => timer = setTimeout(resolve, 3000)),
  ]);
  clearTimeout(timer);
  const app = createApiApp({
    store,
    tokens: [token],
    ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
    serverAddress: options.listen,
  });
  const server = await serveHttps({ hostname, port, cert: pki.cert, key: pki.key }, app.fetch);
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `https://${host === "0.0.0.0" ? "127.0.0.1" : host}:${addr.port}`;
  const kubeconfigPath = `${options.dataDir}/kubeconfig`;
  await Deno.writeTextFile(kubeconfigPath, kubeconfigFor(url, token, pki.caCert), { mode: 0o600 });
  try {
    await bootstrapServices({ objects, network, advertiseAddress, apiPort: addr.port });
  } catch (e) {
    // the API serves without them; the next start tries again
    console.error("control plane: making the kubernetes Service and Endpoints:", e);
  }
  const dns = options.clusterDns
    ? await startClusterDns(store, options.clusterDns, settings)
    : undefined;

  let stopped: Promise<void> | undefined;
  return {
    url,
    caCert: pki.caCert,
    kubeconfigPath,
    token,
    advertiseAddress,
    network,
    ...(dns ? { dnsAddress: dns.address } : {}),
    stop() {
      stopped ??= (async () => {
        const closing = server.shutdown();
        await dns?.stop();
        await election.stop();
        await campaign;
        await closing;
        await serviceAllocator?.stop();
        unregisterStorage?.();
        await store.close();
        lock.close();
      })();
      return stopped;
    },
  };
}

/**
 * Cluster DNS, after the API serves (it writes the kube-dns Service and Endpoints). A failure
 * (say the port is taken) is logged, not fatal: the API and the controllers still serve.
 */
async function startClusterDns(
  store: Store,
  options: { listen?: string; upstream?: string },
  settings: Settings,
): Promise<ClusterDns | undefined> {
  const where = options.listen ?? `${settings.advertiseAddress}:53`;
  const listen = parseListen(where);
  const dns = new ClusterDns({
    store,
    listen,
    advertiseAddress: settings.advertiseAddress,
    domain: settings.network.clusterDomain,
    clusterIP: settings.network.clusterDNS,
    ...(options.upstream ? { upstream: options.upstream } : {}),
  });
  try {
    await dns.start();
    return dns;
  } catch (e) {
    console.error(
      `control plane: cluster DNS on ${where} is not running: ${errorMessage(e)}`,
    );
    return undefined;
  }
}
