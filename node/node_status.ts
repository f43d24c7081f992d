/**
 * The Node object an agent registers: capacity and allocatable from the machine, addresses,
 * well-known labels, node info and conditions. `nodeObject` is pure; `readMachineInfo` reads
 * the machine.
 *
 * @module
 */

import { SERVING_CA_ANNOTATION } from "../net/pki.ts";
import type { KubeObject } from "../storage/object.ts";

/** Facts about the machine the agent runs on. */
export interface MachineInfo {
  hostname: string;
  cpus: number;
  memoryBytes: number;
  kernelVersion: string;
  osImage: string;
  architecture: string;
  machineId: string;
  bootId: string;
  /** the address other nodes and the control plane reach this node at */
  internalIp: string;
}

/** What the agent adds on top of the machine facts. */
export interface NodeSettings {
  name: string;
  labels: Record<string, string>;
  /** e.g. "podman://4.3.1" */
  containerRuntimeVersion: string;
  /** the agent's HTTPS port (logs), published as daemonEndpoints.kubeletEndpoint */
  agentPort: number;
  /** PEM of the CA of that port's certificate, published as {@linkcode SERVING_CA_ANNOTATION} */
  servingCa?: string;
  /** how many pods this node accepts (default 110, as kubelet) */
  maxPods?: number;
  /** images present, for the scheduler's image-locality score */
  images?: Array<{ names: string[]; sizeBytes: number }>;
  /** the agent version reported as kubeletVersion */
  version: string;
}

const GOARCH: Record<string, string> = { x86_64: "amd64", aarch64: "arm64", arm: "arm" };

/** Kubernetes' name for a CPU architecture. */
export function goArch(arch: string): string {
  return GOARCH[arch] ?? arch;
}

/** The Node object to create or update, with Ready conditions stamped at `now`. */
export function nodeObject(machine: MachineInfo, settings: NodeSettings, now: string): KubeObject {
  const arch = goArch(machine.architecture);
  const capacity = {
    cpu: String(machine.cpus),
    memory: `${Math.floor(machine.memoryBytes / 1024)}Ki`,
    pods: String(settings.maxPods ?? 110),
  };
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
    reason,
    message,
  });
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: settings.name,
      labels: {
        "kubernetes.io/hostname": settings.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": arch,
        ...settings.labels,
      },
      ...(settings.servingCa
        ? { annotations: { [SERVING_CA_ANNOTATION]: settings.servingCa } }
        : {}),
    },
    spec: {},
    status: {
      capacity,
      allocatable: { ...capacity },
      conditions: [
        condition(
          "MemoryPressure",
          "False",
          "KubeletHasSufficientMemory",
          "kubelet has sufficient memory available",
        ),
        condition(
          "DiskPressure",
          "False",
          "KubeletHasNoDiskPressure",
          "kubelet has no disk pressure",
        ),
        condition(
          "PIDPressure",
          "False",
          "KubeletHasSufficientPID",
          "kubelet has sufficient PID available",
        ),
        condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
      ],
      addresses: [
        { type: "InternalIP", address: machine.internalIp },
        { type: "Hostname", address: settings.name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: settings.agentPort } },
      nodeInfo: {
        machineID: machine.machineId,
        systemUUID: machine.machineId,
        bootID: machine.bootId,
        kernelVersion: machine.kernelVersion,
        osImage: machine.osImage,
        containerRuntimeVersion: settings.containerRuntimeVersion,
        kubeletVersion: settings.version,
        kubeProxyVersion: settings.version,
        operatingSystem: "linux",
        architecture: arch,
      },
      images: settings.images ?? [],
    },
  };
}

async function readText(path: string, fallback = ""): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim();
  } catch {
    return fallback;
  }
}

/** The first non-loopback IPv4 address, or 127.0.0.1 when there is none. */
export function pickInternalIp(interfaces: Deno.NetworkInterfaceInfo[]): string {
  const candidates = interfaces.filter((i) =>
    i.family === "IPv4" && !i.address.startsWith("127.") && !i.name.startsWith("cni") &&
    !i.name.startsWith("podman") && !i.name.startsWith("veth")
  );
  return candidates[0]?.address ?? "127.0.0.1";
}

/** Read this machine's facts from /proc, /etc and the network interfaces. */
export async function readMachineInfo(): Promise<MachineInfo> {
  const meminfo = await readText("/proc/meminfo");
  const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? "0");
  const osRelease = await readText("/etc/os-release");
  const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(osRelease)?.[1] ?? "Linux";
  return {
    hostname: Deno.hostname(),
    cpus: navigator.hardwareConcurrency,
    memoryBytes: memKb * 1024,
    kernelVersion: await readText("/proc/sys/kernel/osrelease", Deno.osRelease()),
    osImage: pretty,
    architecture: Deno.build.arch,
    machineId: await readText("/etc/machine-id", "unknown"),
    bootId: await readText("/proc/sys/kernel/random/boot_id", "unknown"),
    internalIp: pickInternalIp(Deno.networkInterfaces()),
  };
}
