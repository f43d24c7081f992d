import assert from "node:assert/strict";
import type { KubeObject } from "../storage/object.ts";
import { RuntimeError } from "./runtime.ts";
import {
  appArmorAdmission,
  appArmorEnabled,
  containerSecurity,
  nonRootViolation,
  sandboxSeccomp,
  seccompArgs,
  securityArgs,
  type SecurityDefaults,
} from "./security.ts";

const NODE: SecurityDefaults = { seccompDefault: false, seccompDir: "/var/lib/edge/seccomp" };

function pod(securityContext?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web", namespace: "prod", uid: "u-1" },
    spec: { containers: [{ name: "app" }], ...(securityContext ? { securityContext } : {}) },
  };
}

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(
    fn,
    (e) =>
      e instanceof RuntimeError && e.reason === "CreateContainerConfigError" &&
      message.test(e.message),
  );
}

Deno.test("containerSecurity(): no profile is Unconfined, or RuntimeDefault with --seccomp-default", () => {
  assert.deepEqual(containerSecurity(pod(), { name: "app" }, NODE), {
    seccomp: { type: "Unconfined" },
  });
  assert.deepEqual(
    containerSecurity(pod(), { name: "app" }, { ...NODE, seccompDefault: true }).seccomp,
    { type: "RuntimeDefault" },
  );
  assert.deepEqual(sandboxSeccomp(pod(), NODE), { type: "Unconfined" });
  assert.deepEqual(sandboxSeccomp(pod(), { ...NODE, seccompDefault: true }), {
    type: "RuntimeDefault",
  });
});

Deno.test("containerSecurity(): the container's fields win over the pod's", () => {
  const p = pod({
    seccompProfile: { type: "RuntimeDefault" },
    runAsUser: 1000,
    runAsGroup: 3000,
    supplementalGroups: [4000],
  });
  assert.deepEqual(containerSecurity(p, { name: "app" }, NODE), {
    seccomp: { type: "RuntimeDefault" },
    runAsUser: 1000,
    runAsGroup: 3000,
    supplementalGroups: [4000],
  });
  const own = containerSecurity(p, {
    name: "app",
    securityContext: {
      seccompProfile: { type: "Localhost", localhostProfile: "profiles/audit.json" },
      runAsUser: 2000,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "cap_sys_time"], drop: ["ALL"] },
    },
  }, NODE);
  assert.deepEqual(own, {
    seccomp: { type: "Localhost", path: "/var/lib/edge/seccomp/profiles/audit.json" },
    runAsUser: 2000,
    runAsGroup: 3000,
    supplementalGroups: [4000],
    readOnlyRootFilesystem: true,
    noNewPrivileges: true,
    capAdd: ["NET_ADMIN", "SYS_TIME"],
    capDrop: ["ALL"],
  });
  assert.deepEqual(sandboxSeccomp(p, NODE), { type: "RuntimeDefault" });
});

Deno.test("containerSecurity(): a privileged container is unconfined", () => {
  const p = pod({ seccompProfile: { type: "RuntimeDefault" } });
  const security = containerSecurity(p, { name: "app", securityContext: { privileged: true } }, {
    ...NODE,
    seccompDefault: true,
  });
  assert.deepEqual(security, { seccomp: { type: "Unconfined" }, privileged: true });
});

Deno.test("containerSecurity() refuses what podman cannot be given safely", () => {
  refused(
    () => containerSecurity(pod({ runAsNonRoot: true, runAsUser: 0 }), { name: "app" }, NODE),
    /^container's runAsUser breaks non-root policy \(pod: "web_prod\(u-1\)", container: app\)$/,
  );
  refused(
    () =>
      containerSecurity(pod(), {
        name: "app",
        securityContext: { capabilities: { add: ["NET_ADMIN --privileged"] } },
      }, NODE),
    /invalid capability "NET_ADMIN --privileged"/,
  );
  for (const bad of ["../etc/shadow", "/etc/x.json", ""]) {
    refused(
      () =>
        containerSecurity(pod({ seccompProfile: { type: "Localhost", localhostProfile: bad } }), {
          name: "app",
        }, NODE),
      /invalid seccomp localhostProfile/,
    );
  }
  refused(
    () =>
      containerSecurity(
        pod({ seccompProfile: { type: "Localhost", localhostProfile: "a.json" } }),
        { name: "app" },
        { seccompDefault: false, seccompDir: "" },
      ),
    /no directory of seccomp profiles/,
  );
  refused(
    () =>
      containerSecurity(pod(), {
        name: "app",
        securityContext: { privileged: true, allowPrivilegeEscalation: false },
      }, NODE),
    /cannot set allowPrivilegeEscalation to false and privileged to true/,
  );
  // runAsNonRoot with a non-root uid passes; the image's user is the runtime's to check
  assert.equal(
    containerSecurity(pod({ runAsNonRoot: true }), { name: "app" }, NODE).runAsNonRoot,
    true,
  );
});

Deno.test("securityArgs() and seccompArgs() give podman one flag per setting", () => {
  assert.deepEqual(seccompArgs({ type: "RuntimeDefault" }), []);
  assert.deepEqual(seccompArgs({ type: "Unconfined" }), ["--security-opt", "seccomp=unconfined"]);
  assert.deepEqual(seccompArgs({ type: "Localhost", path: "/p/a.json" }), [
    "--security-opt",
    "seccomp=/p/a.json",
  ]);
  assert.deepEqual(
    securityArgs({
      seccomp: { type: "RuntimeDefault" },
      runAsUser: 1000,
      runAsGroup: 3000,
      supplementalGroups: [4000],
      privileged: true,
      readOnlyRootFilesystem: true,
      noNewPrivileges: true,
      capAdd: ["NET_ADMIN"],
      capDrop: ["ALL"],
    }),
    [
      ...["--user", "1000:3000", "--group-add", "4000", "--privileged"],
      ...["--read-only", "--read-only-tmpfs=false", "--security-opt", "no-new-privileges"],
      ...["--cap-add", "NET_ADMIN", "--cap-drop", "ALL"],
    ],
  );
  assert.deepEqual(securityArgs({ seccomp: { type: "Unconfined" }, runAsUser: 5 }), [
    ...["--security-opt", "seccomp=unconfined", "--user", "5"],
  ]);
  // runAsGroup alone: the image's user, with that group (root when the image names none)
  const group = (imageUser?: string) =>
    securityArgs({
      seccomp: { type: "RuntimeDefault" },
      runAsGroup: 3000,
      ...(imageUser !== undefined ? { imageUser } : {}),
    });
  assert.deepEqual(group(""), ["--user", "0:3000"]);
  assert.deepEqual(group("nobody:nogroup"), ["--user", "nobody:3000"]);
  assert.deepEqual(group("1000"), ["--user", "1000:3000"]);
  assert.deepEqual(group(), [], "without the image's user, no --user");
});

Deno.test("nonRootViolation() follows kubelet: root, no user and names are refused", () => {
  for (const user of ["", "0", "root", "0:0", "root:wheel"]) {
    assert.match(
      nonRootViolation(user, "p", "c") ?? "",
      /^container has runAsNonRoot and image will run as root/,
    );
  }
  assert.match(nonRootViolation("nobody", "p", "c") ?? "", /non-numeric user \(nobody\)/);
  assert.equal(nonRootViolation("1000", "p", "c"), undefined);
  assert.equal(nonRootViolation("65534:65534", "p", "c"), undefined);
});

Deno.test("appArmorAdmission() refuses a profile other than Unconfined where AppArmor is off", () => {
  const withAnnotation = (value: string): KubeObject => ({
    ...pod(),
    metadata: {
      name: "web",
      namespace: "prod",
      uid: "u-1",
      annotations: { "container.apparmor.security.beta.kubernetes.io/app": value },
    },
  });
  assert.equal(
    appArmorAdmission(pod(), false),
    undefined,
    "none named: RuntimeDefault, not required",
  );
  assert.equal(
    appArmorAdmission(pod({ appArmorProfile: { type: "Unconfined" } }), false),
    undefined,
  );
  assert.equal(appArmorAdmission(withAnnotation("unconfined"), false), undefined);
  const refusal = {
    reason: "AppArmor",
    message: "Cannot enforce AppArmor: AppArmor is not enabled on the host",
  };
  assert.deepEqual(
    appArmorAdmission(pod({ appArmorProfile: { type: "RuntimeDefault" } }), false),
    refusal,
  );
  assert.deepEqual(appArmorAdmission(withAnnotation("localhost/k8s-deny-write"), false), refusal);
  assert.equal(appArmorAdmission(withAnnotation("localhost/k8s-deny-write"), true), undefined);
  assert.match(
    appArmorAdmission(withAnnotation("localhost/ "), true)?.message ?? "",
    /^Cannot enforce AppArmor: invalid empty AppArmor profile name/,
  );
});

Deno.test("containerSecurity() passes AppArmor profiles on a host that enforces it", () => {
  const enforcing: SecurityDefaults = { ...NODE, appArmor: true };
  const localhost = pod({ appArmorProfile: { type: "Localhost", localhostProfile: "k8s-x" } });
  assert.equal(containerSecurity(localhost, { name: "app" }, NODE).appArmor, undefined);
  const security = containerSecurity(localhost, { name: "app" }, enforcing);
  assert.equal(security.appArmor, "k8s-x");
  assert.deepEqual(securityArgs(security).slice(-2), ["--security-opt", "apparmor=k8s-x"]);
  const own = containerSecurity(localhost, {
    name: "app",
    securityContext: { appArmorProfile: { type: "Unconfined" } },
  }, enforcing);
  assert.equal(own.appArmor, "unconfined", "the container's profile wins");
  assert.equal(
    containerSecurity(
      pod({ appArmorProfile: { type: "RuntimeDefault" } }),
      { name: "app" },
      enforcing,
    )
      .appArmor,
    undefined,
    "RuntimeDefault is podman's own default profile",
  );
  refused(
    () =>
      containerSecurity(
        pod({ appArmorProfile: { type: "Localhost", localhostProfile: "a,b=c" } }),
        { name: "app" },
        enforcing,
      ),
    /invalid AppArmor profile name "a,b=c"/,
  );
});

Deno.test("appArmorEnabled() reads the kernel's switch, as kubelet", async () => {
  assert.equal(await appArmorEnabled(() => Promise.resolve("Y\n")), true);
  assert.equal(await appArmorEnabled(() => Promise.resolve("N\n")), false);
  assert.equal(await appArmorEnabled(() => Promise.reject(new Deno.errors.NotFound())), false);
});
