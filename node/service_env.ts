/**
 * Service environment variables, as kubelet's `getServiceEnvVarMap` and `envvars.FromServices`
 * make them: for every Service of the pod's namespace that has a cluster IP (not headless,
 * not ExternalName) when the container starts, and, whatever `enableServiceLinks` says, the
 * `kubernetes` Service of namespace `default` (the API server's; a `kubernetes` Service of the
 * pod's own namespace takes its place when links are enabled):
 *
 * ```
 * WEB_SERVICE_HOST=10.96.0.20          WEB_PORT=tcp://10.96.0.20:80
 * WEB_SERVICE_PORT=80                  WEB_PORT_80_TCP=tcp://10.96.0.20:80
 * WEB_SERVICE_PORT_HTTP=80             WEB_PORT_80_TCP_PROTO=tcp
 *                                      WEB_PORT_80_TCP_PORT=80
 *                                      WEB_PORT_80_TCP_ADDR=10.96.0.20
 * ```
 *
 * Names are upper-cased with `-` turned into `_`; `_SERVICE_PORT` and `_PORT` are the first
 * port's. The container's own variables win over these (see `node/container_config.ts`).
 *
 * @module
 */

import type { KubeObject } from "../storage/object.ts";

/** The namespace and name of the API server's Service, whose variables every pod gets. */
export const MASTER_SERVICE = { namespace: "default", name: "kubernetes" };

interface ServicePortView {
  name?: string;
  protocol?: string;
  port?: number;
}

interface ServiceSpecView {
  clusterIP?: string;
  ports?: ServicePortView[];
}

/** kubelet's `IsServiceIPSet`: a cluster IP that is neither empty nor `None`. */
export function hasClusterIP(service: KubeObject): boolean {
  const ip = (service.spec as ServiceSpecView | undefined)?.clusterIP;
  return typeof ip === "string" && ip !== "" && ip !== "None";
}

/** `my-svc` → `MY_SVC`. */
export function envName(name: string): string {
  return name.replaceAll("-", "_").toUpperCase();
}

/** The variables of one Service (none when it has no cluster IP or no port). */
export function serviceVariables(service: KubeObject): Array<{ name: string; value: string }> {
  const spec = (service.spec ?? {}) as ServiceSpecView;
  const ports = (spec.ports ?? []).filter((p) => Number.isInteger(p.port));
  const first = ports[0];
  if (!hasClusterIP(service) || !first) return [];
  const ip = spec.clusterIP!;
  const prefix = envName(service.metadata.name ?? "");
  const vars: Array<{ name: string; value: string }> = [
    { name: `${prefix}_SERVICE_HOST`, value: ip },
    { name: `${prefix}_SERVICE_PORT`, value: String(first.port) },
  ];
  for (const p of ports) {
    if (p.name) {
      vars.push({ name: `${prefix}_SERVICE_PORT_${envName(p.name)}`, value: String(p.port) });
    }
  }
  for (const [i, p] of ports.entries()) {
    const protocol = p.protocol || "TCP";
    const url = `${protocol.toLowerCase()}://${ip}:${p.port}`;
    if (i === 0) vars.push({ name: `${prefix}_PORT`, value: url });
    const portPrefix = `${prefix}_PORT_${p.port}_${protocol.toUpperCase()}`;
    vars.push(
      { name: portPrefix, value: url },
      { name: `${portPrefix}_PROTO`, value: protocol.toLowerCase() },
      { name: `${portPrefix}_PORT`, value: String(p.port) },
      { name: `${portPrefix}_ADDR`, value: ip },
    );
  }
  return vars;
}

/**
 * The service variables of a pod in `namespace`: from `services` (any namespaces; only the
 * pod's own and `default/kubernetes` count), links of the own namespace only when
 * `enableServiceLinks` is not false. Services are taken in name order, so the result does not
 * depend on the order of `services`.
 */
export function serviceEnvVars(
  services: Iterable<KubeObject>,
  namespace: string,
  enableServiceLinks: boolean,
): Map<string, string> {
  const chosen = new Map<string, KubeObject>();
  let master: KubeObject | undefined;
  for (const service of services) {
    if (!hasClusterIP(service)) continue;
    const ns = service.metadata.namespace ?? "";
    const name = service.metadata.name ?? "";
    if (ns === MASTER_SERVICE.namespace && name === MASTER_SERVICE.name) master = service;
    else if (ns === namespace && enableServiceLinks) chosen.set(name, service);
  }
  // a `kubernetes` Service of the pod's own namespace (links enabled) shadows the master's
  if (master && !chosen.has(MASTER_SERVICE.name)) chosen.set(MASTER_SERVICE.name, master);
  const env = new Map<string, string>();
  for (const name of [...chosen.keys()].sort()) {
    for (const v of serviceVariables(chosen.get(name)!)) env.set(v.name, v.value);
  }
  return env;
}
