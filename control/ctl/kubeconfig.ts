/**
 * Kubeconfig loading as kubectl does it: `--kubeconfig`, else the files in `$KUBECONFIG`
 * (colon-separated, the first file to set a value wins), else `~/.kube/config`; then the
 * current context (or `--context`) picks a cluster and a user.
 *
 * @example
 * ```ts
 * const access = await loadKubeconfig({ env: Deno.env.toObject(), namespace: "web" });
 * // { server: "https://10.0.0.1:6443", token: "…", namespace: "web", … }
 * ```
 *
 * @module
 */

import { parseYamlDocuments } from "../../storage/yaml.ts";
import { isPlainObject } from "../../storage/object.ts";
import { CtlError } from "./_client.ts";

/** Where and how to reach the API server, resolved from kubeconfig and flags. */
export interface ClusterAccess {
  /** base URL, e.g. `https://127.0.0.1:6443` (no trailing slash) */
  server: string;
  /** bearer token (from `token` or `tokenFile`) */
  token?: string;
  /** PEM of the cluster CA (`certificate-authority-data` or `certificate-authority`) */
  caCert?: string;
  /** PEM client certificate and key, when the user authenticates with them */
  clientCert?: string;
  clientKey?: string;
  insecureSkipTlsVerify: boolean;
  /** `-n`, else the context's namespace, else `default` */
  namespace: string;
  /** true when `-n/--namespace` was given (apply then refuses objects of other namespaces) */
  namespaceExplicit: boolean;
}

/** Inputs of {@linkcode loadKubeconfig}: the global flags and the environment. */
export interface KubeconfigOptions {
  /** `--kubeconfig` */
  path?: string;
  /** `--context` */
  context?: string;
  /** `-n/--namespace` */
  namespace?: string;
  /** `-s/--server` */
  server?: string;
  /** `--token` */
  token?: string;
  /** environment (`KUBECONFIG`, `HOME`) */
  env: Record<string, string | undefined>;
}

/** kubectl's server when no kubeconfig names one. */
export const DEFAULT_SERVER = "http://localhost:8080";

interface Named {
  name: string;
  value: Record<string, unknown>;
  /** directory of the file it came from, for relative paths */
  dir: string;
}

interface Merged {
  currentContext?: string;
  clusters: Map<string, Named>;
  users: Map<string, Named>;
  contexts: Map<string, Named>;
}

/** Resolve the cluster to talk to; throws {@linkcode CtlError} on a broken kubeconfig. */
export async function loadKubeconfig(opts: KubeconfigOptions): Promise<ClusterAccess> {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of await kubeconfigFiles(opts)) mergeFile(merged, file.path, file.text);

  const contextName = opts.context ?? merged.currentContext ?? "";
  const context = merged.contexts.get(contextName);
  if (opts.context !== undefined && !context) {
    throw new CtlError(`context was not found for specified context: ${opts.context}`);
  }
  const ctx = context?.value ?? {};
  const cluster = merged.clusters.get(String(ctx.cluster ?? ""));
  const user = merged.users.get(String(ctx.user ?? ""));
  const c = cluster?.value ?? {};
  const u = user?.value ?? {};

  const access: ClusterAccess = {
    server: (opts.server ?? (typeof c.server === "string" ? c.server : DEFAULT_SERVER))
      .replace(/\/+$/, ""),
    insecureSkipTlsVerify: c["insecure-skip-tls-verify"] === true,
    namespace: opts.namespace ??
      (typeof ctx.namespace === "string" && ctx.namespace ? ctx.namespace : "default"),
    namespaceExplicit: opts.namespace !== undefined,
  };
  if (typeof c["certificate-authority-data"] === "string") {
    access.caCert = decodeBase64(c["certificate-authority-data"], "certificate-authority-data");
  } else if (typeof c["certificate-authority"] === "string" && cluster) {
    access.caCert = await readRelative(cluster.dir, c["certificate-authority"]);
  }
  const token = opts.token ?? (typeof u.token === "string" ? u.token : undefined);
  if (token !== undefined) access.token = token;
  else if (typeof u.tokenFile === "string" && user) {
    access.token = (await readRelative(user.dir, u.tokenFile)).trim();
  }
  if (typeof u["client-certificate-data"] === "string") {
    access.clientCert = decodeBase64(u["client-certificate-data"], "client-certificate-data");
  } else if (typeof u["client-certificate"] === "string" && user) {
    access.clientCert = await readRelative(user.dir, u["client-certificate"]);
  }
  if (typeof u["client-key-data"] === "string") {
    access.clientKey = decodeBase64(u["client-key-data"], "client-key-data");
  } else if (typeof u["client-key"] === "string" && user) {
    access.clientKey = await readRelative(user.dir, u["client-key"]);
  }
  return access;
}

async function kubeconfigFiles(
  opts: KubeconfigOptions,
): Promise<{ path: string; text: string }[]> {
  if (opts.path !== undefined) {
    try {
      return [{ path: opts.path, text: await Deno.readTextFile(opts.path) }];
    } catch (err) {
      throw new CtlError(`stat ${opts.path}: ${errorText(err)}`);
    }
  }
  const fromEnv = opts.env.KUBECONFIG;
  const paths = fromEnv
    ? fromEnv.split(":").filter((p) => p !== "")
    : opts.env.HOME
    ? [`${opts.env.HOME}/.kube/config`]
    : [];
  const files: { path: string; text: string }[] = [];
  for (const path of paths) {
    try {
      files.push({ path, text: await Deno.readTextFile(path) });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) {
        throw new CtlError(`cannot read kubeconfig ${path}: ${errorText(err)}`);
      }
    }
  }
  return files;
}

function mergeFile(merged: Merged, path: string, text: string): void {
  let doc: unknown;
  try {
    doc = parseYamlDocuments(text)[0] ?? {};
  } catch (err) {
    throw new CtlError(`error loading config file "${path}": ${errorText(err)}`);
  }
  if (!isPlainObject(doc)) {
    throw new CtlError(`error loading config file "${path}": not a kubeconfig mapping`);
  }
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
  if (merged.currentContext === undefined && typeof doc["current-context"] === "string") {
    if (doc["current-context"] !== "") merged.currentContext = doc["current-context"];
  }
  const sections = [
    ["clusters", "cluster", merged.clusters],
    ["users", "user", merged.users],
    ["contexts", "context", merged.contexts],
  ] as const;
  for (const [list, key, into] of sections) {
    const entries = doc[list];
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      if (!isPlainObject(entry) || typeof entry.name !== "string") continue;
      if (into.has(entry.name)) continue;
      const value = entry[key];
      into.set(entry.name, { name: entry.name, value: isPlainObject(value) ? value : {}, dir });
    }
  }
}

async function readRelative(dir: string, path: string): Promise<string> {
  const full = path.startsWith("/") ? path : `${dir}/${path}`;
  try {
    return await Deno.readTextFile(full);
  } catch (err) {
    throw new CtlError(`unable to read ${full}: ${errorText(err)}`);
  }
}

function decodeBase64(data: string, what: string): string {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)));
  } catch {
    throw new CtlError(`invalid base64 in ${what} of the kubeconfig`);
  }
}

function errorText(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file or directory";
  return err instanceof Error ? err.message : String(err);
}
