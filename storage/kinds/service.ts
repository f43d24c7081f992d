/**
 * core/v1 Service: a stable virtual IP (or DNS name) in front of a set of pods.
 *
 * Defaults as Kubernetes: `type: ClusterIP`, `sessionAffinity: None`, port `protocol: TCP`,
 * `targetPort` = `port`, `internalTrafficPolicy: Cluster` (and `externalTrafficPolicy: Cluster`
 * for NodePort/LoadBalancer).
 *
 * @module
 */

import { z } from "zod";
import { formatLabels } from "../labels.ts";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import { invalidValue, requiredValue, type StatusCause } from "../status.ts";
import {
  causesFor,
  dns1035LabelErrors,
  dns1123LabelErrors,
  duplicateValue,
  forbidden,
  portNumberErrors,
  validateLabels,
} from "../validation.ts";
import { Condition, IntOrString, objects, str, stringMap, strings } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, StringMap } from "./_meta.ts";
import { validatePortRef } from "./_pod_spec.ts";

const ServicePort = z.strictObject({
  name: z.string().optional(),
  protocol: z.enum(["TCP", "UDP", "SCTP"]).default("TCP"),
  appProtocol: z.string().optional(),
  port: z.int32(),
  targetPort: IntOrString.optional(),
  nodePort: z.int32().optional(),
});

const LoadBalancerIngress = z.strictObject({
  ip: z.string().optional(),
  hostname: z.string().optional(),
  ipMode: z.enum(["VIP", "Proxy"]).optional(),
  ports: z
    .array(
      z.strictObject({
        port: z.int32(),
        protocol: z.enum(["TCP", "UDP", "SCTP"]),
        error: z.string().optional(),
      }),
    )
    .optional(),
});

const SERVICE_TYPES = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] as const;

/** The full Service object. */
export const ServiceSchema = objectSchema({
  spec: z
    .strictObject({
      ports: z.array(ServicePort).optional(),
      selector: StringMap.optional(),
      clusterIP: z.string().optional(),
      clusterIPs: z.array(z.string()).optional(),
      type: z.enum(SERVICE_TYPES).default("ClusterIP"),
      externalIPs: z.array(z.string()).optional(),
      sessionAffinity: z.enum(["None", "ClientIP"]).default("None"),
      loadBalancerIP: z.string().optional(),
      loadBalancerSourceRanges: z.array(z.string()).optional(),
      externalName: z.string().optional(),
      externalTrafficPolicy: z.enum(["Cluster", "Local"]).optional(),
      healthCheckNodePort: z.int32().optional(),
      publishNotReadyAddresses: z.boolean().optional(),
      sessionAffinityConfig: z
        .strictObject({
          clientIP: z.strictObject({ timeoutSeconds: z.int32().min(1).max(86400).optional() })
            .optional(),
        })
        .optional(),
      ipFamilies: z.array(z.enum(["IPv4", "IPv6"])).optional(),
      ipFamilyPolicy: z.enum(["SingleStack", "PreferDualStack", "RequireDualStack"]).optional(),
      allocateLoadBalancerNodePorts: z.boolean().optional(),
      loadBalancerClass: z.string().optional(),
      internalTrafficPolicy: z.enum(["Cluster", "Local"]).optional(),
      trafficDistribution: z.string().optional(),
    })
    .prefault({}),
  status: z
    .strictObject({
      loadBalancer: z.strictObject({ ingress: z.array(LoadBalancerIngress).optional() })
        .optional(),
      conditions: z.array(Condition).optional(),
    })
    .optional(),
});

/** A Service as stored. */
export type Service = z.output<typeof ServiceSchema>;

type ServiceSpec = Service["spec"];

function normalizeService(obj: KubeObject): void {
  const spec = obj.spec as ServiceSpec;
  for (const p of spec.ports ?? []) {
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === "") {
      p.targetPort = p.port;
    }
  }
  if (spec.type !== "ExternalName") spec.internalTrafficPolicy ??= "Cluster";
  if (spec.type === "NodePort" || spec.type === "LoadBalancer") {
    spec.externalTrafficPolicy ??= "Cluster";
  }
  if (spec.type === "LoadBalancer") spec.allocateLoadBalancerNodePorts ??= true;
  if (spec.sessionAffinity === "ClientIP" && spec.sessionAffinityConfig === undefined) {
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
  }
  if (spec.clusterIP && !spec.clusterIPs) spec.clusterIPs = [spec.clusterIP];
  obj.status ??= { loadBalancer: {} };
}

function validateService(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = obj.metadata.name ?? "";
  if (name && dns1123LabelErrors(name).length === 0) {
    causes.push(...causesFor("metadata.name", name, dns1035LabelErrors(name)));
  }
  const spec = obj.spec as ServiceSpec;
  const ports = spec.ports ?? [];
  if (spec.type === "ExternalName") {
    if (!spec.externalName) causes.push(requiredValue("spec.externalName"));
  } else if (ports.length === 0 && spec.clusterIP !== "None") {
    causes.push(requiredValue("spec.ports"));
  }
  const names = new Set<string>();
  for (const [i, p] of ports.entries()) {
    const path = `spec.ports[${i}]`;
    if (ports.length > 1 && !p.name) causes.push(requiredValue(`${path}.name`));
    if (p.name) {
      causes.push(...causesFor(`${path}.name`, p.name, dns1123LabelErrors(p.name)));
      if (names.has(p.name)) causes.push(duplicateValue(`${path}.name`, p.name));
      names.add(p.name);
    }
    for (const m of portNumberErrors(p.port)) causes.push(invalidValue(`${path}.port`, p.port, m));
    causes.push(...validatePortRef(p.targetPort, `${path}.targetPort`));
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (spec.type === "ClusterIP") {
        causes.push(forbidden(`${path}.nodePort`, "may not be used when `type` is 'ClusterIP'"));
      } else {
        for (const m of portNumberErrors(p.nodePort)) {
          causes.push(invalidValue(`${path}.nodePort`, p.nodePort, m));
        }
      }
    }
  }
  causes.push(...validateLabels(spec.selector, "spec.selector"));
  return causes;
}

/** The External-IP cell (`getServiceExternalIP`, wide form). */
export function serviceExternalIP(obj: KubeObject): string {
  const type = str(obj, "spec", "type");
  const externalIPs = strings(obj, "spec", "externalIPs");
  switch (type) {
    case "ClusterIP":
    case "NodePort":
      return externalIPs.length > 0 ? externalIPs.join(",") : "<none>";
    case "LoadBalancer": {
      const lb = [
        ...new Set(
          objects(obj, "status", "loadBalancer", "ingress")
            .map((
              i,
            ) => (typeof i.ip === "string" && i.ip
              ? i.ip
              : typeof i.hostname === "string"
              ? i.hostname
              : "")
            )
            .filter((s) => s !== ""),
        ),
      ];
      if (externalIPs.length > 0) return [...lb, ...externalIPs].join(",");
      return lb.length > 0 ? lb.join(",") : "<pending>";
    }
    case "ExternalName":
      return str(obj, "spec", "externalName");
  }
  return "<unknown>";
}

/** The Port(s) cell: `80/TCP,443:30443/TCP` (`makePortString`). */
export function servicePorts(obj: KubeObject): string {
  const s = objects(obj, "spec", "ports")
    .map((p) => {
      const port = typeof p.port === "number" ? p.port : 0;
      const protocol = typeof p.protocol === "string" ? p.protocol : "";
      const nodePort = typeof p.nodePort === "number" ? p.nodePort : 0;
      return nodePort > 0 ? `${port}:${nodePort}/${protocol}` : `${port}/${protocol}`;
    })
    .join(",");
  return s === "" ? "<none>" : s;
}

/** core/v1 services */
export const services: ResourceType = {
  group: "",
  version: "v1",
  kind: "Service",
  plural: "services",
  singular: "service",
  namespaced: true,
  nameRule: "dns1123-label",
  shortNames: ["svc"],
  categories: ["all"],
  subresources: ["status"],
  schema: ServiceSchema,
  statusFields: ["status"],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Type",
      "string",
      0,
      "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer.",
      (o) => str(o, "spec", "type"),
    ),
    column(
      "Cluster-IP",
      "string",
      0,
      "clusterIP is the IP address of the service and is usually assigned randomly.",
      (o) => {
        return strings(o, "spec", "clusterIPs")[0] ?? "<none>";
      },
    ),
    column(
      "External-IP",
      "string",
      0,
      "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
      serviceExternalIP,
    ),
    column(
      "Port(s)",
      "string",
      0,
      "The list of ports that are exposed by this service.",
      servicePorts,
    ),
    ageColumn,
    column(
      "Selector",
      "string",
      1,
      "Route service traffic to pods with label keys and values matching this selector.",
      (o) => formatLabels(stringMap(o, "spec", "selector")),
    ),
  ],
  fieldSelectors: {},
  normalize: normalizeService,
  validate: validateService,
};
