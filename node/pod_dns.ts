/**
 * A pod's resolv.conf, as kubelet's DNS configurer (`pkg/kubelet/network/dns`) makes it from
 * the pod's `dnsPolicy` and `dnsConfig`:
 *
 * - `ClusterFirst` (the default): the cluster DNS as the only nameserver, search
 *   `<ns>.svc.<domain> svc.<domain> <domain>` then the node's own search domains,
 *   `options ndots:5`. A host-network pod with `ClusterFirst` gets `Default` instead.
 * - `ClusterFirstWithHostNet`: `ClusterFirst`, for host-network pods too.
 * - `Default`: the node's resolv.conf.
 * - `None`: nothing but `dnsConfig`.
 *
 * `dnsConfig` is then merged in (nameservers and searches appended without duplicates,
 * options by name with the pod's value winning) and kubelet's limits applied (3 nameservers,
 * 32 search domains of 2048 characters in all, none longer than 253).
 *
 * podman gives a host-network pod the host's resolv.conf whatever it is asked, so such a pod
 * whose DNS is not the node's ({@linkcode needsOwnResolvConf}) gets the file
 * {@linkcode resolvConfText} makes, mounted into its containers.
 *
 * @module
 */

import { parseIPv4 } from "../net/ipv4.ts";
import type { KubeObject } from "../storage/object.ts";
import type { SandboxConfig } from "./runtime.ts";

/** nameservers, search domains and options of a resolv.conf. */
export type ResolvConf = NonNullable<SandboxConfig["dns"]>;

/** What the node knows about DNS. */
export interface NodeDns {
  /** the cluster DNS Service's IP ("" when there is none: ClusterFirst falls back to Default) */
  clusterDNS: string;
  /** e.g. `cluster.local` ("" leaves the cluster search domains out) */
  clusterDomain: string;
  /** the node's resolv.conf, parsed (see {@linkcode parseResolvConf}) */
  host: ResolvConf;
}

const MAX_NAMESERVERS = 3;
const MAX_SEARCHES = 32;
const MAX_SEARCH_CHARS = 2048;
const MAX_DOMAIN_CHARS = 253;

const IPV6 = /^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/;
const SEARCH =
  /^(\.|[a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]*[a-zA-Z0-9_])?)*\.?)$/;
const OPTION = /^[a-zA-Z0-9][a-zA-Z0-9_-]*(:[a-zA-Z0-9_.-]+)?$/;

/** Whether a resolv.conf value may reach podman's command line (see {@linkcode podDnsConfig}). */
export function isValidDnsValue(kind: "nameserver" | "search" | "option", value: string): boolean {
  switch (kind) {
    case "nameserver":
      return parseIPv4(value) !== undefined || (IPV6.test(value) && value.length <= 45);
    case "search":
      return value.length <= MAX_DOMAIN_CHARS && SEARCH.test(value);
    case "option":
      return value.length <= 64 && OPTION.test(value);
  }
}

/** `dns` without the values podman must not see, each one reported in `warnings`. */
function keepValid(dns: ResolvConf, warnings: string[]): ResolvConf {
  const keep = (kind: "nameserver" | "search" | "option", values: string[]) =>
    values.filter((v) => {
      if (isValidDnsValue(kind, v)) return true;
      warnings.push(`invalid DNS ${kind} ${JSON.stringify(v)} left out`);
      return false;
    });
  return {
    nameservers: keep("nameserver", dns.nameservers),
    searches: keep("search", dns.searches),
    options: keep("option", dns.options),
  };
}

/**
 * Parses a resolv.conf like kubelet: `nameserver` lines accumulate, the last `search` and the
 * last `options` line win, comments and other lines are ignored, a trailing dot on a search
 * domain is dropped.
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], searches: [], options: [] };
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    const [keyword, ...fields] = trimmed.split(/\s+/);
    if (keyword === "nameserver" && fields[0]) conf.nameservers.push(fields[0]);
    else if (keyword === "search") conf.searches = fields.map((s) => s.replace(/\.$/, ""));
    else if (keyword === "options") conf.options = fields;
  }
  return conf;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Options by name, later ones replacing earlier ones in place (`ndots:5` + `ndots:2`). */
function mergeOptions(
  base: readonly string[],
  extra: ReadonlyArray<{ name?: string | undefined; value?: string | undefined }>,
): string[] {
  const byName = new Map<string, string>();
  for (const option of base) {
    const colon = option.indexOf(":");
    if (colon < 0) byName.set(option, "");
    else byName.set(option.slice(0, colon), option.slice(colon + 1));
  }
  for (const option of extra) {
    if (!option.name) continue;
    byName.set(option.name, option.value ?? "");
  }
  return [...byName].map(([name, value]) => (value === "" ? name : `${name}:${value}`));
}

/** The search list cut to kubelet's limits; `cut` tells whether something was left out. */
function fitSearches(searches: string[]): { searches: string[]; cut: boolean } {
  let cut = searches.length > MAX_SEARCHES;
  let kept = searches.slice(0, MAX_SEARCHES).filter((s) => {
    if (s.length <= MAX_DOMAIN_CHARS) return true;
    cut = true;
    return false;
  });
  while (kept.join(" ").length > MAX_SEARCH_CHARS) {
    kept = kept.slice(0, -1);
    cut = true;
  }
  return { searches: kept, cut };
}

/**
 * The resolv.conf of `pod` on this node, and the warnings kubelet would report as
 * `DNSConfigForming` events when limits cut something.
 */
export function podDnsConfig(
  pod: KubeObject,
  node: NodeDns,
): { dns: ResolvConf; warnings: string[] } {
  const spec = (pod.spec ?? {}) as {
    dnsPolicy?: string;
    hostNetwork?: boolean;
    dnsConfig?: {
      nameservers?: string[];
      searches?: string[];
      options?: Array<{ name?: string; value?: string }>;
    };
  };
  const warnings: string[] = [];
  const policy = spec.dnsPolicy ?? "ClusterFirst";
  const cluster = policy === "ClusterFirstWithHostNet" ||
    (policy === "ClusterFirst" && spec.hostNetwork !== true);
  let dns: ResolvConf;
  if (policy === "None") {
    dns = { nameservers: [], searches: [], options: [] };
  } else if (cluster && node.clusterDNS !== "") {
    const domain = node.clusterDomain;
    const clusterSearch = domain === ""
      ? []
      : [`${pod.metadata.namespace ?? "default"}.svc.${domain}`, `svc.${domain}`, domain];
    dns = {
      nameservers: [node.clusterDNS],
      searches: unique([...clusterSearch, ...node.host.searches]),
      options: ["ndots:5"],
    };
  } else {
    if (cluster) {
      warnings.push(
        `kubelet does not have ClusterDNS IP configured and cannot create Pod using ` +
          `"ClusterFirst" policy. Falling back to "Default" policy.`,
      );
    }
    dns = {
      nameservers: [...node.host.nameservers],
      searches: [...node.host.searches],
      options: [...node.host.options],
    };
  }
  const extra = spec.dnsConfig;
  if (extra) {
    dns.nameservers = unique([...dns.nameservers, ...(extra.nameservers ?? [])]);
    dns.searches = unique([...dns.searches, ...(extra.searches ?? [])]);
    dns.options = mergeOptions(dns.options, extra.options ?? []);
  }
  dns = keepValid(dns, warnings);
  if (dns.nameservers.length > MAX_NAMESERVERS) {
    dns.nameservers = dns.nameservers.slice(0, MAX_NAMESERVERS);
    warnings.push(
      "Nameserver limits were exceeded, some nameservers have been omitted, the applied " +
        `nameserver line is: ${dns.nameservers.join(" ")}`,
    );
  }
  const fitted = fitSearches(dns.searches);
  dns.searches = fitted.searches;
  if (fitted.cut) {
    warnings.push(
      "Search Line limits were exceeded, some search paths have been omitted, the applied " +
        `search line is: ${dns.searches.join(" ")}`,
    );
  }
  return { dns, warnings };
}

/**
 * Whether the pod needs its own resolv.conf mounted into its containers: a host-network pod
 * with `ClusterFirstWithHostNet` or `None` (podman would give it the host's file).
 */
export function needsOwnResolvConf(pod: KubeObject): boolean {
  const spec = (pod.spec ?? {}) as { dnsPolicy?: string; hostNetwork?: boolean };
  return spec.hostNetwork === true &&
    (spec.dnsPolicy === "ClusterFirstWithHostNet" || spec.dnsPolicy === "None");
}

/** The text of a resolv.conf: `search`, `nameserver` lines, `options`. */
export function resolvConfText(dns: ResolvConf): string {
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(" ")}`);
  for (const server of dns.nameservers) lines.push(`nameserver ${server}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(" ")}`);
  return lines.map((l) => `${l}\n`).join("");
}
