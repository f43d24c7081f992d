/**
 * discovery.k8s.io/v1 EndpointSlice: a part of the endpoints behind a Service, found through
 * the `kubernetes.io/service-name` label. `kubectl describe service` reads these (not the
 * Endpoints object) for its `Endpoints:` line; here they are written by the mirroring
 * controller (`control/endpoint_slice/`) from each Endpoints object.
 *
 * Defaults as Kubernetes (`SetDefaults_EndpointPort`): a port's `name` is `""` and its
 * `protocol` `TCP` when absent; an endpoint's `conditions` is `{}` and `endpoints` is `[]`
 * (Go always prints both). Validation as `ValidateEndpointSlice`/`ValidateEndpointSliceUpdate`:
 * `addressType` is required, one of IPv4, IPv6 and FQDN, and immutable; at most 1000 endpoints
 * of 1 to 100 addresses, each valid for the address type (an IP may not be unspecified,
 * loopback, link-local or link-local multicast); hostnames and port names are DNS labels,
 * unique among the ports; at most 100 ports (the limit the v1 API documents) and 8 zone hints.
 *
 * @module
 */

import { isIPv4, isIPv6 } from "node:net";
import { z } from "zod";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import { requiredValue, type StatusCause, tooMany } from "../status.ts";
import {
  causesFor,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  duplicateValue,
  invalid,
  labelValueErrors,
  qualifiedNameErrors,
  validateLabels,
} from "../validation.ts";
import { jsonEqual, ObjectReference, objects, str, strings } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, StringMap } from "./_meta.ts";

/** The address types an EndpointSlice may carry. */
export const ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"] as const;

/** An EndpointSlice's `addressType`. */
export type AddressType = (typeof ADDRESS_TYPES)[number];

/** Most endpoints one slice may hold. */
export const MAX_ENDPOINTS = 1000;
/** Most addresses one endpoint may have. */
export const MAX_ADDRESSES = 100;
/** Most ports one slice may list. */
export const MAX_PORTS = 100;
/** Most zone hints one endpoint may have. */
const MAX_ZONE_HINTS = 8;
/** Most `deprecatedTopology` labels one endpoint may have. */
const MAX_TOPOLOGY_LABELS = 16;

const EndpointConditions = z.strictObject({
  ready: z.boolean().optional(),
  serving: z.boolean().optional(),
  terminating: z.boolean().optional(),
});

const Endpoint = z.strictObject({
  addresses: z.array(z.string()).default([]),
  conditions: EndpointConditions.default({}),
  hostname: z.string().optional(),
  targetRef: ObjectReference.optional(),
  deprecatedTopology: StringMap.optional(),
  nodeName: z.string().optional(),
  zone: z.string().optional(),
  hints: z
    .strictObject({ forZones: z.array(z.strictObject({ name: z.string() })).optional() })
    .optional(),
});

const EndpointPort = z.strictObject({
  name: z.string().default(""),
  protocol: z.enum(["TCP", "UDP", "SCTP"]).default("TCP"),
  port: z.int32().optional(),
  appProtocol: z.string().optional(),
});

/** The full EndpointSlice object. */
export const EndpointSliceSchema = objectSchema({
  // required: optional here so that a missing one reads `Required value` (see validate)
  addressType: z.enum(ADDRESS_TYPES).optional(),
  endpoints: z.array(Endpoint).default([]),
  ports: z.array(EndpointPort).optional(),
});

/** An EndpointSlice as stored. */
export type EndpointSlice = z.output<typeof EndpointSliceSchema>;

/** discovery/v1 Endpoint */
export type SliceEndpoint = EndpointSlice["endpoints"][number];

/** discovery/v1 EndpointPort */
export type SlicePort = NonNullable<EndpointSlice["ports"]>[number];

/** The eight 16-bit groups of an IPv6 address (one `isIPv6` accepted, without a zone). */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    // an embedded IPv4 address (`::ffff:10.0.0.1`) is the last two groups
    const [a = 0, b = 0, c = 0, d = 0] = last.split(".").map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const [head = "", rest] = text.split("::");
  const parse = (s: string) => s === "" ? [] : s.split(":").map((g) => parseInt(g, 16));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const zeros = Math.max(8 - tail.length - left.length - right.length, 0);
  return [...left, ...new Array<number>(zeros).fill(0), ...right, ...tail];
}

/** Kubernetes' `ValidateEndpointIP` messages for an address `isIPv4`/`isIPv6` accepted. */
function endpointIPErrors(ip: string): string[] {
  const errs: string[] = [];
  let unspecified: boolean, loopback: boolean, linkLocal: boolean, linkLocalMulticast: boolean;
  if (isIPv4(ip)) {
    const [a = 0, b = 0, c = 0, d = 0] = ip.split(".").map(Number);
    unspecified = a === 0 && b === 0 && c === 0 && d === 0;
    loopback = a === 127;
    linkLocal = a === 169 && b === 254;
    linkLocalMulticast = a === 224 && b === 0 && c === 0;
  } else {
    const g = ipv6Groups(ip);
    const first = g[0] ?? 0;
    unspecified = g.every((x) => x === 0);
    loopback = g.slice(0, 7).every((x) => x === 0) && g[7] === 1;
    linkLocal = (first & 0xffc0) === 0xfe80;
    linkLocalMulticast = (first & 0xff0f) === 0xff02;
  }
  if (unspecified) errs.push(`may not be unspecified (${ip})`);
  if (loopback) errs.push("may not be in the loopback range (127.0.0.0/8, ::1/128)");
  if (linkLocal) errs.push("may not be in the link-local range (169.254.0.0/16, fe80::/10)");
  if (linkLocalMulticast) {
    errs.push("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)");
  }
  return errs;
}

/** Whether `ip` is an IPv4 address written in IPv6 form (`::ffff:10.0.0.1`), as Go's `To4`. */
function isIPv4Mapped(ip: string): boolean {
  const g = ipv6Groups(ip);
  return g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
}

/** `IsFullyQualifiedDomainName` messages (a trailing dot allowed, at least two labels). */
function fqdnErrors(name: string): string[] {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  const errs = dns1123SubdomainErrors(bare);
  if (errs.length > 0) return errs;
  if (bare.split(".").length < 2) {
    return ["should be a domain with at least two segments separated by dots"];
  }
  return bare.split(".").flatMap((label) => dns1123LabelErrors(label));
}

/**
 * The messages Kubernetes gives an endpoint address of `addressType` (empty when the API
 * accepts it): `10.0.0.1` is a valid IPv4 address, `127.0.0.1` is not (loopback), `fd00::1` a
 * valid IPv6 one, `db.example.com` a valid FQDN.
 */
export function endpointAddressErrors(addressType: string, address: string): string[] {
  switch (addressType) {
    case "IPv4":
      return isIPv4(address) ? endpointIPErrors(address) : ["must be a valid IPv4 address"];
    case "IPv6":
      return isIPv6(address) && !address.includes("%") && !isIPv4Mapped(address)
        ? endpointIPErrors(address)
        : ["must be a valid IPv6 address"];
    case "FQDN":
      return fqdnErrors(address);
  }
  return [];
}

/** `field.TooMany`: `Too many: 1001: must have at most 1000 items`. */
function validateEndpoints(endpoints: SliceEndpoint[], addressType: AddressType): StatusCause[] {
  if (endpoints.length > MAX_ENDPOINTS) {
    return [tooMany("endpoints", endpoints.length, MAX_ENDPOINTS)];
  }
  const causes: StatusCause[] = [];
  for (const [i, ep] of endpoints.entries()) {
    const path = `endpoints[${i}]`;
    if (ep.addresses.length === 0) {
      causes.push(requiredValue(`${path}.addresses`, "must contain at least 1 address"));
    } else if (ep.addresses.length > MAX_ADDRESSES) {
      causes.push(tooMany(`${path}.addresses`, ep.addresses.length, MAX_ADDRESSES));
    }
    for (const [j, address] of ep.addresses.entries()) {
      const field = `${path}.addresses[${j}]`;
      if (addressType === "FQDN" && address === "") causes.push(requiredValue(field));
      else causes.push(...causesFor(field, address, endpointAddressErrors(addressType, address)));
    }
    if (ep.nodeName !== undefined) {
      causes.push(
        ...causesFor(`${path}.nodeName`, ep.nodeName, dns1123SubdomainErrors(ep.nodeName)),
      );
    }
    const topology = ep.deprecatedTopology ?? {};
    if (Object.keys(topology).length > MAX_TOPOLOGY_LABELS) {
      causes.push(
        tooMany(`${path}.deprecatedTopology`, Object.keys(topology).length, MAX_TOPOLOGY_LABELS),
      );
    }
    causes.push(...validateLabels(topology, `${path}.deprecatedTopology`));
    if (ep.hostname !== undefined) {
      causes.push(
        ...causesFor(`${path}.hostname`, ep.hostname, dns1123LabelErrors(ep.hostname)),
      );
    }
    const zones = ep.hints?.forZones ?? [];
    if (zones.length > MAX_ZONE_HINTS) {
      causes.push(tooMany(`${path}.hints.forZones`, zones.length, MAX_ZONE_HINTS));
      continue;
    }
    const seen = new Set<string>();
    for (const [j, zone] of zones.entries()) {
      const field = `${path}.hints.forZones[${j}].name`;
      if (seen.has(zone.name)) causes.push(duplicateValue(field, zone.name));
      seen.add(zone.name);
      causes.push(...causesFor(field, zone.name, labelValueErrors(zone.name)));
    }
  }
  return causes;
}

function validatePorts(ports: SlicePort[]): StatusCause[] {
  if (ports.length > MAX_PORTS) return [tooMany("ports", ports.length, MAX_PORTS)];
  const causes: StatusCause[] = [];
  const names = new Set<string>();
  for (const [i, port] of ports.entries()) {
    const path = `ports[${i}]`;
    if (port.name !== "") {
      causes.push(...causesFor(`${path}.name`, port.name, dns1123LabelErrors(port.name)));
    }
    if (names.has(port.name)) causes.push(duplicateValue(`${path}.name`, port.name));
    names.add(port.name);
    if (port.appProtocol !== undefined) {
      causes.push(
        ...causesFor(
          `${path}.appProtocol`,
          port.appProtocol,
          qualifiedNameErrors(port.appProtocol),
        ),
      );
    }
  }
  return causes;
}

function validateEndpointSlice(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const slice = obj as unknown as EndpointSlice;
  if (slice.addressType === undefined) return [requiredValue("addressType")];
  const causes = [
    ...validateEndpoints(slice.endpoints, slice.addressType),
    ...validatePorts(slice.ports ?? []),
  ];
  if (old && !jsonEqual(obj.addressType, old.addressType)) {
    causes.push(invalid("addressType", obj.addressType, "field is immutable"));
  }
  return causes;
}

/** `a,b,c + N more...` of the first three items, `<unset>` for none (`listWithMoreString`). */
function listWithMore(items: string[]): string {
  const max = 3;
  if (items.length > max) return `${items.slice(0, max).join(",")} + ${items.length - max} more...`;
  return items.length === 0 ? "<unset>" : items.join(",");
}

/** The Ports cell: each port's number, else its name, else `*` (`formatDiscoveryPorts`). */
export function formatSlicePorts(obj: KubeObject): string {
  return listWithMore(
    objects(obj, "ports").map((p) =>
      typeof p.port === "number" ? String(p.port) : typeof p.name === "string" ? p.name : "*"
    ),
  );
}

/** The Endpoints cell: every endpoint's addresses (`formatDiscoveryEndpoints`). */
export function formatSliceEndpoints(obj: KubeObject): string {
  return listWithMore(objects(obj, "endpoints").flatMap((ep) => strings(ep, "addresses")));
}

/** discovery.k8s.io/v1 endpointslices */
export const endpointSlices: ResourceType = {
  group: "discovery.k8s.io",
  version: "v1",
  kind: "EndpointSlice",
  plural: "endpointslices",
  singular: "endpointslice",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: [],
  categories: [],
  subresources: [],
  schema: EndpointSliceSchema,
  statusFields: [],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "AddressType",
      "string",
      0,
      "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation. The following address types are currently supported: * IPv4: Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN: Represents a Fully Qualified Domain Name.",
      (o) => str(o, "addressType"),
    ),
    column(
      "Ports",
      "string",
      0,
      'ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name. When ports is empty, it indicates that there are no defined ports. When a port is defined with a nil port value, it indicates "all ports". Each slice may include a maximum of 100 ports.',
      formatSlicePorts,
    ),
    column(
      "Endpoints",
      "string",
      0,
      "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints.",
      formatSliceEndpoints,
    ),
    ageColumn,
  ],
  fieldSelectors: {},
  validate: validateEndpointSlice,
};
