import assert from "node:assert/strict";
import { containerCreateArgs, cpusFlag, podCreateArgs } from "./_podman_args.ts";
import { containerState, containerStatus, type PodmanInspect } from "./_podman_parse.ts";
import {
  busyboxProbeArgs,
  busyboxProbeOutcome,
  httpRequest,
  isProbeHost,
} from "./_podman_probe.ts";
import { needsPull, parseImageReference, validateSandboxConfig } from "./_podman_validate.ts";
import { LABELS, RuntimeError } from "./runtime.ts";

/** A sandbox of pod prod/web on node edge-1, nothing more. */
const SANDBOX = {
  podUid: "0123456789ab",
  podName: "web",
  podNamespace: "prod",
  node: "edge-1",
  hostname: "web",
  hostNetwork: false,
  portMappings: [],
};

Deno.test("podCreateArgs() names the pod by namespace, name and uid and maps dns and ports", () => {
  assert.deepEqual(
    podCreateArgs({
      ...SANDBOX,
      dns: {
        nameservers: ["10.96.0.10"],
        searches: ["prod.svc.cluster.local"],
        options: ["ndots:5"],
      },
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "TCP" }],
    }),
    [
      ..."pod create --name edge_prod_web_01234567".split(" "),
      ...["--infra-name", "edge_prod_web_01234567_infra"],
      ...["--label", `${LABELS.node}=edge-1`, "--label", `${LABELS.podName}=web`],
      ...["--label", `${LABELS.podNamespace}=prod`, "--label", `${LABELS.podUid}=0123456789ab`],
      ...["--hostname", "web", "--dns", "10.96.0.10", "--dns-search", "prod.svc.cluster.local"],
      ...["--dns-opt", "ndots:5", "-p", "8080:80/tcp"],
    ],
  );
});

Deno.test("podCreateArgs() joins the pod network unless the pod uses the host's", () => {
  const config = { ...SANDBOX, network: "edge-0123456789ab" };
  const network = (args: string[]) => args[args.indexOf("--network") + 1];
  assert.equal(network(podCreateArgs(config)), "edge-0123456789ab");
  assert.equal(network(podCreateArgs({ ...config, hostNetwork: true })), "host");
  assert.ok(!podCreateArgs({ ...config, network: undefined }).includes("--network"));
  for (const bad of ["host", "none", "-x", "ns:/proc/1/ns/net", "a b"]) {
    assert.throws(() => podCreateArgs({ ...config, network: bad }), RuntimeError, bad);
  }
});

Deno.test("podCreateArgs() gives a sandbox on a network its fixed address, and labels it", () => {
  const config = { ...SANDBOX, network: "edge-0123456789ab", subnet: "10.244.1.0/24" };
  const args = podCreateArgs(config, "10.244.1.7");
  assert.deepEqual(args.slice(args.indexOf("--network"), args.indexOf("--network") + 4), [
    ...["--network", "edge-0123456789ab", "--ip", "10.244.1.7"],
  ]);
  assert.ok(args.includes(`${LABELS.podIp}=10.244.1.7`));
  const fqdn = "web.db.prod.svc.cluster.local";
  const named = podCreateArgs({ ...config, fqdn }, "10.244.1.7");
  assert.deepEqual(named.slice(named.indexOf("--add-host"), named.indexOf("--add-host") + 2), [
    "--add-host",
    `${fqdn}:10.244.1.7`,
  ]);
  validateSandboxConfig({ ...config, fqdn });
  assert.throws(
    () => validateSandboxConfig({ ...config, hostname: `${"a".repeat(40)}.${"b".repeat(30)}` }),
    /FQDN a+\.b+ is too long \(64 characters is the max, 71 characters requested\)/,
  );
  assert.ok(!podCreateArgs({ ...config, hostNetwork: true }, "10.244.1.7").includes("--ip"));
  for (const bad of ["10.244.1", "-x", "10.244.1.7 --privileged", "fd00::1"]) {
    assert.throws(() => podCreateArgs(config, bad), RuntimeError, bad);
  }
});

Deno.test("podCreateArgs() adds the pod's host aliases to its /etc/hosts", () => {
  const config = {
    ...SANDBOX,
    hostAliases: [{ ip: "10.0.0.5", hostnames: ["db", "db.local"] }, {
      ip: "fd00::7",
      hostnames: ["v6"],
    }],
  };
  const args = podCreateArgs(config);
  assert.deepEqual(args.flatMap((a, i) => (a === "--add-host" ? [args[i + 1]] : [])), [
    "db:10.0.0.5",
    "db.local:10.0.0.5",
    "v6:fd00::7",
  ]);
  validateSandboxConfig(config);
  for (const bad of [{ ip: "10.0.0.5", hostnames: ["a b"] }, { ip: "x:y", hostnames: ["db"] }]) {
    assert.throws(() => validateSandboxConfig({ ...SANDBOX, hostAliases: [bad] }), RuntimeError);
  }
});

Deno.test("podCreateArgs() sets sysctls and the namespaces the pod's containers share", () => {
  const config = SANDBOX;
  const after = (args: string[], flag: string) =>
    args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
  assert.ok(!podCreateArgs(config).includes("--share"));
  assert.deepEqual(after(podCreateArgs({ ...config, sharePid: true }), "--share"), [
    "ipc,net,uts,pid",
  ]);
  assert.deepEqual(after(podCreateArgs({ ...config, hostIPC: true }), "--share"), ["net,uts"]);
  const sysctls = [
    { name: "net.ipv4.ip_local_port_range", value: "2000 3000" },
    { name: "kernel.shm_rmid_forced", value: "1" },
  ];
  assert.deepEqual(after(podCreateArgs({ ...config, sysctls }), "--sysctl"), [
    "net.ipv4.ip_local_port_range=2000 3000",
    "kernel.shm_rmid_forced=1",
  ]);
  validateSandboxConfig({ ...config, sysctls });
  for (const bad of [{ name: "-x", value: "1" }, { name: "net.core.x", value: "1\nkernel.x=2" }]) {
    assert.throws(() => validateSandboxConfig({ ...config, sysctls: [bad] }), RuntimeError);
  }
});

Deno.test("containerCreateArgs() passes command as JSON entrypoint and args after '--'", () => {
  const args = containerCreateArgs(
    {
      podUid: "u",
      name: "app",
      kind: "app",
      attempt: 2,
      specHash: "h",
      image: "localhost/edge-test:1",
      command: ["/bin/sh", "-c"],
      args: ["--not-a-flag"],
      env: [{ name: "A", value: "x=y\n$(id)" }],
      mounts: [{ hostPath: "/srv", containerPath: "/data", readOnly: true }],
      cpuLimitMillis: 1,
      tty: false,
      stdin: true,
    },
    "edge_ns_p_u",
    {},
  );
  assert.deepEqual(args.slice(0, 7), [
    "create",
    "--pod",
    "edge_ns_p_u",
    "--name",
    "edge_ns_p_u_app_2",
    "--pull",
    "never",
  ]);
  assert.deepEqual(args.slice(args.indexOf("--entrypoint")), [
    ...["--entrypoint", '["/bin/sh","-c"]', "--env", "A=x=y\n$(id)", "-v", "/srv:/data:ro"],
    ...["--cpus", "0.01", "--interactive", "--", "localhost/edge-test:1", "--not-a-flag"],
  ]);
  assert.equal(cpusFlag(1500), "1.5");
  const host = containerCreateArgs(
    {
      podUid: "u",
      name: "app",
      kind: "app",
      attempt: 0,
      specHash: "h",
      image: "localhost/edge-test:1",
      env: [],
      mounts: [],
      tty: false,
      stdin: false,
      hostPID: true,
      hostIPC: true,
    },
    "edge_ns_p_u",
    {},
  );
  assert.deepEqual(host.slice(host.indexOf("--pid"), host.indexOf("--")), [
    ...["--pid", "host", "--ipc", "host"],
  ]);
});

Deno.test("parseImageReference() accepts docker references and finds the domain", () => {
  assert.deepEqual(parseImageReference("localhost/edge-test:1"), {
    name: "localhost/edge-test",
    domain: "localhost",
    tag: "1",
  });
  assert.deepEqual(parseImageReference("library/busybox"), { name: "library/busybox" });
  assert.equal(
    parseImageReference("registry:5000/a/b@sha256:" + "a".repeat(64))?.domain,
    "registry:5000",
  );
  for (const bad of ["", "a/Upper", "a b", "-flag", "a:b:c", "a//b"]) {
    assert.equal(parseImageReference(bad), undefined, bad);
  }
  const local = parseImageReference("localhost/app")!;
  assert.equal(needsPull(local, "Always", true), false);
  assert.equal(needsPull(parseImageReference("quay.io/app")!, "Always", true), true);
});

Deno.test("containerStatus() maps exit, OOM and runc's finish-before-start timestamps", () => {
  const inspect: PodmanInspect = {
    Id: "c".repeat(64),
    Created: "2026-01-01T00:00:00Z",
    Image: "f".repeat(64),
    ImageName: "localhost/edge-test:1",
    State: {
      Status: "exited",
      Running: false,
      OOMKilled: true,
      Pid: 0,
      ExitCode: 137,
      StartedAt: "2026-01-01T00:00:01.5Z",
      FinishedAt: "2026-01-01T00:00:01.4Z",
    },
    Config: { Labels: { [LABELS.podUid]: "u", [LABELS.container]: "app", [LABELS.attempt]: "3" } },
  };
  const status = containerStatus(inspect);
  assert.equal(status?.reason, "OOMKilled");
  assert.equal(status?.attempt, 3);
  assert.equal(status?.imageId, `sha256:${"f".repeat(64)}`);
  assert.deepEqual(status?.finishedAt, status?.startedAt);
  assert.equal(containerStatus({ ...inspect, Config: { Labels: null } }), undefined);
  assert.deepEqual(["configured", "paused", "stopped", "removing"].map(containerState), [
    "created",
    "running",
    "exited",
    "unknown",
  ]);
});

Deno.test("busyboxProbeArgs() and httpRequest() build probes without -T and through no proxy", () => {
  const probe = {
    kind: "http" as const,
    port: 80,
    path: "healthz",
    scheme: "HTTPS" as const,
    headers: [{ name: "Host", value: "svc" }],
  };
  assert.deepEqual(busyboxProbeArgs(probe, 1000, "/bin/busybox", "10.244.0.5"), [
    ...["wget", "-q", "-Y", "off", "-O", "/dev/null", "-U", "kube-probe/edge"],
    ...["--header", "Host: svc", "--no-check-certificate", "https://10.244.0.5:80/healthz"],
  ]);
  assert.deepEqual(busyboxProbeArgs({ kind: "tcp", port: 5 }, 1500, "/bb", "127.0.0.1"), [
    ..."nc -w 2 127.0.0.1 5 -e /bb true".split(" "),
  ]);
  assert.equal(
    httpRequest({ ...probe, scheme: "HTTP" }, "127.0.0.1"),
    "GET /healthz HTTP/1.1\r\nUser-Agent: kube-probe/edge\r\nAccept: */*\r\nHost: svc\r\n" +
      "Connection: close\r\n\r\n",
  );
  assert.equal(
    httpRequest({ ...probe, scheme: "HTTP", headers: [] }, "fd00::5"),
    "GET /healthz HTTP/1.1\r\nHost: [fd00::5]:80\r\nUser-Agent: kube-probe/edge\r\n" +
      "Accept: */*\r\nConnection: close\r\n\r\n",
  );
  const timedOut = busyboxProbeOutcome(
    { kind: "tcp", port: 5 },
    {
      code: 143,
      stdout: "",
      stderr: "",
      timedOut: true,
    },
    1000,
    "10.244.0.5",
  );
  assert.deepEqual(timedOut, {
    success: false,
    message: "dial tcp 10.244.0.5:5: timeout after 1000ms",
  });
});

Deno.test("isProbeHost() takes addresses and DNS names, nothing a URL or argv could misread", () => {
  for (const ok of ["10.244.0.5", "127.0.0.2", "fd00::5", "::1", "web.default.svc", "Node-1"]) {
    assert.ok(isProbeHost(ok), ok);
  }
  for (const bad of ["", "a b", "x@evil", "x/y", "-w", "a..b", "[::1]", "h:80:x", "a\nb"]) {
    assert.ok(!isProbeHost(bad), JSON.stringify(bad));
  }
});
