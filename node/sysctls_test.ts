import assert from "node:assert/strict";
import type { KubeObject } from "../storage/object.ts";
import { kernelVersion, SysctlAllowlist } from "./sysctls.ts";

const NO_HOST = { hostNetwork: false, hostIPC: false };

function pod(sysctls: Array<{ name: string; value: string }>, spec = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "default", uid: "u1" },
    spec: { containers: [], securityContext: { sysctls }, ...spec },
  } as unknown as KubeObject;
}

Deno.test("SysctlAllowlist allows kubelet's safe sysctls and refuses the rest by default", () => {
  const allow = SysctlAllowlist.parse([], "6.1.0-18-amd64");
  for (
    const name of [
      "kernel.shm_rmid_forced",
      "net.ipv4.ip_local_port_range",
      "net.ipv4.ip_unprivileged_port_start",
      "net.ipv4.tcp_keepalive_time",
      "net.ipv4.tcp_fin_timeout",
      "net/ipv4/ping_group_range",
    ]
  ) {
    assert.equal(allow.check(name, NO_HOST), undefined, name);
  }
  assert.equal(allow.check("net.core.somaxconn", NO_HOST), `"net.core.somaxconn" not allowlisted`);
  assert.equal(allow.check("kernel.msgmax", NO_HOST), `"kernel.msgmax" not allowlisted`);
  assert.equal(allow.check("vm.swappiness", NO_HOST), `"vm.swappiness" not allowlisted`);
});

Deno.test("SysctlAllowlist leaves out safe sysctls an older kernel does not namespace", () => {
  const old = SysctlAllowlist.parse([], "4.4.0");
  assert.equal(old.check("net.ipv4.ip_local_reserved_ports", NO_HOST), undefined);
  assert.equal(
    old.check("net.ipv4.tcp_keepalive_time", NO_HOST),
    `"net.ipv4.tcp_keepalive_time" not allowlisted`,
  );
  const unknown = SysctlAllowlist.parse([], "unknown");
  assert.equal(unknown.check("net.ipv4.tcp_syncookies", NO_HOST), undefined);
  assert.notEqual(unknown.check("net.ipv4.tcp_fin_timeout", NO_HOST), undefined);
  assert.deepEqual(kernelVersion("6.1.0-18-amd64"), [6, 1]);
  assert.equal(kernelVersion("x"), undefined);
});

Deno.test("SysctlAllowlist takes unsafe names and prefixes, and refuses host namespaces", () => {
  const allow = SysctlAllowlist.parse(["kernel.msg*", "net.core.somaxconn", "fs.mqueue.*"]);
  assert.equal(allow.check("kernel.msgmax", NO_HOST), undefined);
  assert.equal(allow.check("kernel/msgmnb", NO_HOST), undefined);
  assert.equal(allow.check("fs.mqueue.msg_max", NO_HOST), undefined);
  assert.equal(allow.check("net.core.somaxconn", NO_HOST), undefined);
  assert.equal(allow.check("net.core.rmem_max", NO_HOST), `"net.core.rmem_max" not allowlisted`);
  assert.equal(
    allow.check("net.core.somaxconn", { hostNetwork: true, hostIPC: false }),
    `"net.core.somaxconn" not allowed with host net enabled`,
  );
  assert.equal(
    allow.check("kernel.shm_rmid_forced", { hostNetwork: false, hostIPC: true }),
    `"kernel.shm_rmid_forced" not allowed with host ipc enabled`,
  );
});

Deno.test("SysctlAllowlist.parse() refuses malformed and node-level patterns, as kubelet", () => {
  assert.throws(() => SysctlAllowlist.parse(["vm.swappiness"]), /not known to be namespaced/);
  assert.throws(() => SysctlAllowlist.parse(["kernel.*"]), /not known to be namespaced/);
  assert.throws(() => SysctlAllowlist.parse(["*"]), /not known to be namespaced/);
  assert.throws(() => SysctlAllowlist.parse(["Net.Core"]), /neither a sysctl name nor a prefix/);
  assert.throws(() => SysctlAllowlist.parse(["net..core"]), /neither a sysctl name nor a prefix/);
  assert.throws(() => SysctlAllowlist.parse(["net;rm"]), /neither a sysctl name nor a prefix/);
});

Deno.test("SysctlAllowlist.admit() gives kubelet's reason and message for the first refusal", () => {
  const allow = SysctlAllowlist.parse([]);
  assert.equal(allow.admit(pod([])), undefined);
  assert.equal(allow.admit(pod([{ name: "net.ipv4.tcp_syncookies", value: "1" }])), undefined);
  assert.deepEqual(
    allow.admit(pod([
      { name: "net.ipv4.tcp_syncookies", value: "1" },
      { name: "kernel.msgmax", value: "1" },
      { name: "vm.swappiness", value: "1" },
    ])),
    { reason: "SysctlForbidden", message: `forbidden sysctl: "kernel.msgmax" not allowlisted` },
  );
  assert.deepEqual(
    allow.admit(pod([{ name: "net.ipv4.tcp_syncookies", value: "1" }], { hostNetwork: true })),
    {
      reason: "SysctlForbidden",
      message: `forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host net enabled`,
    },
  );
});
