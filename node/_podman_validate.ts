/**
 * Checks on what reaches podman's command line, shared by the podman runtime and the fake so
 * both refuse the same inputs: image references (docker's reference grammar), bind mount paths
 * (podman's `-v src:dst[:opts]` syntax splits on `:` and `,`), environment variable names
 * (podman reads `--env NAME` without `=` from its own environment), sysctls.
 *
 * @module
 */

import { isValidSysctlName } from "../storage/kinds/_pod_rules.ts";
import { type ContainerConfig, RuntimeError, type SandboxConfig } from "./runtime.ts";

const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|-+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const TAG = "\\w[\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE = new RegExp(
  `^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);
const MAX_NAME_LENGTH = 255;

/** An image reference split into its parts. */
export interface ImageReference {
  /** `[domain/]path`, as written */
  name: string;
  /** the registry part, when the reference names one */
  domain?: string;
  tag?: string;
  digest?: string;
}

/** Splits an image reference; undefined when it is not a valid reference. */
export function parseImageReference(image: string): ImageReference | undefined {
  const match = REFERENCE.exec(image);
  const name = match?.[1];
  if (!match || name === undefined || name.length > MAX_NAME_LENGTH) return undefined;
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  const isDomain = first !== "" &&
    (first.includes(".") || first.includes(":") || first === "localhost" ||
      first !== first.toLowerCase());
  return {
    name,
    ...(isDomain ? { domain: first } : {}),
    ...(match[2] !== undefined ? { tag: match[2] } : {}),
    ...(match[3] !== undefined ? { digest: match[3] } : {}),
  };
}

/**
 * Parses `image` or throws the kubelet's InvalidImageName error.
 *
 * @example
 * ```ts
 * requireImageReference("localhost/edge-test:1").domain; // "localhost"
 * ```
 */
export function requireImageReference(image: string): ImageReference {
  const ref = parseImageReference(image);
  if (!ref) {
    throw new RuntimeError(
      "InvalidImageName",
      `Failed to apply default image tag "${image}": couldn't parse image reference "${image}": ` +
        "invalid reference format",
    );
  }
  return ref;
}

/**
 * Whether `ensureImage` has to pull: `Always` pulls, except images in podman's `localhost/`
 * namespace, which were made on this node (`podman import`/`build`) and have no registry to
 * come from; `IfNotPresent` and `Never` pull only a missing image (`Never` then fails).
 */
export function needsPull(
  ref: ImageReference,
  policy: "Always" | "IfNotPresent" | "Never",
  present: boolean,
): boolean {
  if (policy === "Always") return !(present && ref.domain === "localhost");
  return !present;
}

/** The kubelet's ErrImageNeverPull error for `image`. */
export function neverPullError(image: string): RuntimeError {
  return new RuntimeError(
    "ErrImageNeverPull",
    `Container image "${image}" is not present with pull policy of Never`,
  );
}

/**
 * Refuses a container config whose strings podman would misread: a bind mount whose paths are
 * relative or hold `:` or `,`, an env name that is empty, holds `=` or starts with a space,
 * and NUL bytes anywhere (argv cannot carry them). Throws CreateContainerConfigError.
 */
export function validateContainerConfig(config: ContainerConfig): void {
  const fail = (why: string): never => {
    throw new RuntimeError(
      "CreateContainerConfigError",
      `Cannot create container '${config.name}': ${why}`,
    );
  };
  for (const mount of config.mounts) {
    for (const [what, path] of [["host", mount.hostPath], ["container", mount.containerPath]]) {
      if (!path?.startsWith("/")) {
        fail(`volume ${what} path ${JSON.stringify(path)} is not absolute`);
      }
      if (/[:,\0\n]/.test(path ?? "")) {
        fail(`volume ${what} path ${JSON.stringify(path)} contains ':', ',', a newline or NUL`);
      }
    }
  }
  for (const { name, value } of config.env) {
    if (name === "" || name.includes("=") || /^\s/.test(name) || name.includes("\0")) {
      fail(`invalid environment variable name ${JSON.stringify(name)}`);
    }
    if (value.includes("\0")) fail(`environment variable ${name} contains a NUL byte`);
  }
  const strings = [...(config.command ?? []), ...(config.args ?? []), config.workingDir ?? ""];
  if (strings.some((s) => s.includes("\0"))) fail("command, args or workingDir contain a NUL byte");
  if (config.workingDir !== undefined && !config.workingDir.startsWith("/")) {
    fail(`workingDir ${JSON.stringify(config.workingDir)} is not absolute`);
  }
}

/**
 * Refuses a sandbox config whose sysctls podman would misread: a name that is not a sysctl
 * name (the API checks this; a pod from an older store might not have been), or a value with
 * a newline or NUL, or a host alias that is not an address and DNS names. Throws a RuntimeError,
 * as a sandbox podman refuses does.
 */
export function validateSandboxConfig(config: SandboxConfig): void {
  // kubelet's limit: the kernel's hostname is at most 64 bytes
  if (config.hostname.length > 64) {
    throw new RuntimeError(
      "RuntimeError",
      `Failed to construct FQDN from pod hostname and cluster domain, FQDN ${config.hostname} ` +
        `is too long (64 characters is the max, ${config.hostname.length} characters requested)`,
    );
  }
  if (config.fqdn !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(config.fqdn)) {
    throw new RuntimeError("RuntimeError", `invalid pod FQDN ${JSON.stringify(config.fqdn)}`);
  }
  for (const { ip, hostnames } of config.hostAliases ?? []) {
    const names = hostnames.every((n) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n));
    if (!/^[0-9a-fA-F:.]+$/.test(ip) || !names) {
      throw new RuntimeError(
        "RuntimeError",
        `Cannot create sandbox for pod ${config.podNamespace}/${config.podName}: invalid host ` +
          `alias ${JSON.stringify({ ip, hostnames })}`,
      );
    }
  }
  for (const { name, value } of config.sysctls ?? []) {
    if (!isValidSysctlName(name) || /[\0\n]/.test(value)) {
      throw new RuntimeError(
        "RuntimeError",
        `Cannot create sandbox for pod ${config.podNamespace}/${config.podName}: invalid sysctl ${
          JSON.stringify(`${name}=${value}`)
        }`,
      );
    }
  }
}
