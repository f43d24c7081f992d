/**
 * Which sysctls a pod may set on this node, as kubelet's sysctl admission decides: the safe
 * ones (namespaced and isolated from other pods, each from the kernel version that namespaced
 * it) plus what the agent's `--allowed-unsafe-sysctls` names. A pod that sets any other is
 * rejected before anything runs: phase Failed, reason `SysctlForbidden`.
 *
 * @example
 * ```ts
 * const allow = SysctlAllowlist.parse(["kernel.msg*", "net.core.somaxconn"]);
 * allow.check("net.core.somaxconn", { hostNetwork: false, hostIPC: false }); // undefined: allowed
 * allow.check("vm.swappiness", { hostNetwork: false, hostIPC: false });
 * // → "\"vm.swappiness\" not allowlisted"
 * ```
 *
 * @module
 */

import type { KubeObject } from "../storage/object.ts";
import type { PodSpecValue } from "../storage/kinds/_pod_spec.ts";
import { isValidSysctlName, sysctlDotted, sysctlNamespace } from "../storage/kinds/_pod_rules.ts";

/** kubelet's safe sysctls (Kubernetes 1.32) and the kernel that namespaced each, if recent. */
export const SAFE_SYSCTLS: ReadonlyArray<{ name: string; kernel?: [number, number] }> = [
  { name: "kernel.shm_rmid_forced" },
  { name: "net.ipv4.ip_local_port_range" },
  { name: "net.ipv4.tcp_syncookies" },
  { name: "net.ipv4.ping_group_range" },
  { name: "net.ipv4.ip_unprivileged_port_start" },
  { name: "net.ipv4.ip_local_reserved_ports", kernel: [3, 16] },
  { name: "net.ipv4.tcp_keepalive_time", kernel: [4, 5] },
  { name: "net.ipv4.tcp_fin_timeout", kernel: [4, 6] },
  { name: "net.ipv4.tcp_keepalive_intvl", kernel: [4, 5] },
  { name: "net.ipv4.tcp_keepalive_probes", kernel: [4, 5] },
];

/** Reason of a pod rejected for its sysctls (kubelet's `ForbiddenReason`). */
export const SYSCTL_FORBIDDEN = "SysctlForbidden";

/** `major.minor` of a kernel release such as `6.1.0-18-amd64`; undefined when unreadable. */
export function kernelVersion(release: string): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(release);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

function atLeast(have: [number, number] | undefined, want: [number, number]): boolean {
  if (!have) return false;
  return have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]);
}

/** The sysctls, exact or by prefix, a node lets its pods set. */
export class SysctlAllowlist {
  readonly #names = new Map<string, "ipc" | "net">();
  readonly #prefixes = new Map<string, "ipc" | "net">();

  private constructor() {}

  /**
   * The safe sysctls this kernel namespaces, plus `unsafe`: names or prefixes ending in `*`
   * (`kernel.msg*`, `net.core.*`). Throws, as kubelet refuses to start, for a pattern that is
   * malformed or names sysctls no namespace isolates.
   */
  static parse(unsafe: readonly string[], release = Deno.osRelease()): SysctlAllowlist {
    const list = new SysctlAllowlist();
    const kernel = kernelVersion(release);
    for (const safe of SAFE_SYSCTLS) {
      if (!safe.kernel || atLeast(kernel, safe.kernel)) {
        list.#names.set(safe.name, sysctlNamespace(safe.name)!);
      }
    }
    for (const pattern of unsafe) {
      const prefix = pattern.endsWith("*");
      const body = sysctlDotted(prefix ? pattern.slice(0, -1) : pattern);
      const valid = prefix
        ? body === "" || isValidSysctlName(body) || isValidSysctlName(body.slice(0, -1))
        : isValidSysctlName(body);
      if (!valid) {
        throw new Error(
          `--allowed-unsafe-sysctls: ${JSON.stringify(pattern)} is neither a sysctl name nor ` +
            "a prefix of one ending in '*'",
        );
      }
      const namespace = sysctlNamespace(body);
      if (!namespace) {
        const what = prefix
          ? `sysctls ${JSON.stringify(pattern)} are`
          : `sysctl ${JSON.stringify(pattern)} is`;
        throw new Error(`--allowed-unsafe-sysctls: the ${what} not known to be namespaced`);
      }
      (prefix ? list.#prefixes : list.#names).set(body, namespace);
    }
    return list;
  }

  /**
   * Why a pod may not set `name` (a message as kubelet's, without the `forbidden sysctl: `
   * prefix), or undefined when it may. A sysctl in a namespace the pod shares with the host
   * is refused whatever the list says.
   */
  check(name: string, host: { hostNetwork: boolean; hostIPC: boolean }): string | undefined {
    const dotted = sysctlDotted(name);
    let namespace = this.#names.get(dotted);
    if (namespace === undefined) {
      for (const [prefix, ns] of this.#prefixes) {
        if (dotted.startsWith(prefix)) {
          namespace = ns;
          break;
        }
      }
    }
    if (namespace === undefined) return `${JSON.stringify(dotted)} not allowlisted`;
    if (namespace === "ipc" && host.hostIPC) {
      return `${JSON.stringify(dotted)} not allowed with host ipc enabled`;
    }
    if (namespace === "net" && host.hostNetwork) {
      return `${JSON.stringify(dotted)} not allowed with host net enabled`;
    }
    return undefined;
  }

  /** kubelet's admission of a pod's sysctls: the first one refused, or undefined. */
  admit(pod: KubeObject): { reason: string; message: string } | undefined {
    const spec = pod.spec as PodSpecValue;
    const host = { hostNetwork: spec.hostNetwork === true, hostIPC: spec.hostIPC === true };
    for (const { name } of spec.securityContext?.sysctls ?? []) {
      const why = this.check(name, host);
      if (why) return { reason: SYSCTL_FORBIDDEN, message: `forbidden sysctl: ${why}` };
    }
    return undefined;
  }
}
