/**
 * The EndpointSlices an Endpoints object is mirrored into, as pure functions over plain objects
 * (after Kubernetes' `pkg/controller/endpointslicemirroring`). The Endpoints stay the one source
 * of truth: the endpoints controller already works out readiness and resolves named ports per
 * pod, and the slices only repeat what it wrote, in the form `kubectl describe service` and
 * other EndpointSlice readers look for.
 *
 * {@linkcode slicesFor} builds the desired slices of one Endpoints object and its Service:
 *
 * - Addresses offering the same ports, of the same family, share a slice: one per port set and
 *   address type (IPv4 or IPv6), holding the subset's ports (a port without a name gets `""`)
 *   and, in order, its ready addresses (conditions ready, serving: true; terminating: false),
 *   then its not-ready ones (all three false: the endpoints controller leaves terminating pods
 *   out). Subsets with the same ports merge; an address repeated in them is kept once, the
 *   first time (ready before not ready), and `hostname`, `nodeName` and `targetRef` carry over.
 * - An address the EndpointSlice API would refuse for its type (not an IP, or unspecified,
 *   loopback, link-local) is left out, as is every address past the 1000 a slice may hold; a
 *   port set with no address left has no slice.
 * - A slice is named `<endpoints name>-<5 characters of a hash of its address type and port
 *   set>`: the same world always gives the same names and objects, so an unchanged world
 *   causes no write, and a slice never changes its (immutable) address type. The name is cut to
 *   fit 253 characters.
 * - Labels: the Endpoints' own (so `service.kubernetes.io/headless` carries over), plus
 *   `kubernetes.io/service-name: <name>` and `endpointslice.kubernetes.io/managed-by:
 *   endpointslice-mirror.edge`, which marks the slices this controller owns; slices of any
 *   other manager are never touched. Annotations are not copied.
 * - The Service is the slices' controller owner (`controller`, `blockOwnerDeletion`), so the
 *   garbage collector removes them with it.
 *
 * What differs from Kubernetes: Kubernetes mirrors only the Endpoints of Services without a
 * selector, because its EndpointSlice controller writes the slices of the others from the pods;
 * we have no such controller, so every Endpoints object is mirrored. Endpoints labelled
 * `endpointslice.kubernetes.io/skip-mirror: "true"` (their writer publishes its own slices) and
 * Endpoints without a Service (Kubernetes also mirrors only those with one) get none.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import type { Endpoints } from "../../storage/kinds/endpoints.ts";
import {
  type AddressType,
  endpointAddressErrors,
  MAX_ENDPOINTS,
  type SliceEndpoint,
  type SlicePort,
} from "../../storage/kinds/endpoint_slice.ts";
import type { KubeObject } from "../../storage/object.ts";
import { DNS1123_SUBDOMAIN_MAX_LENGTH } from "../../storage/validation.ts";
import { sameJson } from "../api/objects.ts";

/** The label naming the Service a slice belongs to (`discovery.LabelServiceName`). */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";
/** The label naming the controller that manages a slice (`discovery.LabelManagedBy`). */
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
/** Our value of {@linkcode MANAGED_BY_LABEL}. */
export const MIRROR_MANAGER = "endpointslice-mirror.edge";
/** The label with which an Endpoints object asks not to be mirrored (`discovery.LabelSkipMirror`). */
export const SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror";

type EndpointSubset = NonNullable<Endpoints["subsets"]>[number];
type EndpointAddress = NonNullable<EndpointSubset["addresses"]>[number];

/** Letters of generated name suffixes (Kubernetes' `rand.String` alphabet: no vowels). */
const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";
const SUFFIX_LENGTH = 5;

/** Whether this controller manages `slice` (its managed-by label is ours). */
export function isMirrored(slice: KubeObject): boolean {
  return slice.metadata.labels?.[MANAGED_BY_LABEL] === MIRROR_MANAGER;
}

/** The `namespace/name` of the Endpoints a mirrored slice comes from; undefined for others. */
export function mirrorKey(slice: KubeObject): string | undefined {
  const service = slice.metadata.labels?.[SERVICE_NAME_LABEL];
  return isMirrored(slice) && service ? `${slice.metadata.namespace}/${service}` : undefined;
}

/** Whether an Endpoints object is mirrored at all (it is not labelled skip-mirror). */
export function shouldMirror(endpoints: KubeObject): boolean {
  return endpoints.metadata.labels?.[SKIP_MIRROR_LABEL] !== "true";
}

/**
 * `<base>-<suffix>`, the base cut so the name fits 253 characters (and stripped of trailing
 * dots, which would leave an empty DNS label before the dash).
 */
export function sliceName(base: string, suffix: string): string {
  const room = DNS1123_SUBDOMAIN_MAX_LENGTH - suffix.length - 1;
  return `${base.slice(0, room).replace(/\.+$/, "")}-${suffix}`;
}

/** 5 characters of the sha256 of `text`, in {@linkcode SUFFIX_ALPHABET}. */
export function hashSuffix(text: string): string {
  const digest = createHash("sha256").update(text).digest();
  let out = "";
  for (let i = 0; i < SUFFIX_LENGTH; i++) {
    out += SUFFIX_ALPHABET[(digest[i] ?? 0) % SUFFIX_ALPHABET.length];
  }
  return out;
}

function addressTypeOf(ip: string): AddressType | undefined {
  if (isIPv4(ip)) return "IPv4";
  if (isIPv6(ip)) return "IPv6";
  return undefined;
}

function slicePorts(subset: EndpointSubset): SlicePort[] {
  return (subset.ports ?? []).map((p) => ({
    name: p.name ?? "",
    protocol: p.protocol,
    port: p.port,
    ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}),
  }));
}

/** The port set as a string that does not depend on the order of the ports. */
function portSetKey(ports: SlicePort[]): string {
  return JSON.stringify(
    ports.map((p) => [p.name, p.protocol, p.port ?? null, p.appProtocol ?? null])
      .sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1),
  );
}

function sliceEndpoint(address: EndpointAddress, ready: boolean): SliceEndpoint {
  return {
    addresses: [address.ip],
    conditions: { ready, serving: ready, terminating: false },
    ...(address.hostname ? { hostname: address.hostname } : {}),
    ...(address.nodeName ? { nodeName: address.nodeName } : {}),
    ...(address.targetRef ? { targetRef: address.targetRef } : {}),
  };
}

interface Group {
  addressType: AddressType;
  ports: SlicePort[];
  endpoints: SliceEndpoint[];
  ips: Set<string>;
}

/** The labels of a mirrored slice: the Endpoints' own, then ours. */
function sliceLabels(endpoints: KubeObject): Record<string, string> {
  const {
    [SERVICE_NAME_LABEL]: _service,
    [MANAGED_BY_LABEL]: _manager,
    ...own
  } = endpoints.metadata.labels ?? {};
  return {
    ...own,
    [SERVICE_NAME_LABEL]: endpoints.metadata.name ?? "",
    [MANAGED_BY_LABEL]: MIRROR_MANAGER,
  };
}

/**
 * The EndpointSlices mirroring `endpoints`, owned by `service` (its Service, same namespace and
 * name); none when the Endpoints are labelled skip-mirror. See the module documentation.
 */
export function slicesFor(endpoints: KubeObject, service: KubeObject): KubeObject[] {
  if (!shouldMirror(endpoints)) return [];
  const groups = new Map<string, Group>();
  for (const subset of (endpoints as unknown as Endpoints).subsets ?? []) {
    const ports = slicePorts(subset);
    const portKey = portSetKey(ports);
    const addresses: Array<[EndpointAddress, boolean]> = [
      ...(subset.addresses ?? []).map((a): [EndpointAddress, boolean] => [a, true]),
      ...(subset.notReadyAddresses ?? []).map((a): [EndpointAddress, boolean] => [a, false]),
    ];
    for (const [address, ready] of addresses) {
      const addressType = addressTypeOf(address.ip);
      if (!addressType || endpointAddressErrors(addressType, address.ip).length > 0) continue;
      const key = `${addressType}/${portKey}`;
      let group = groups.get(key);
      if (!group) {
        group = { addressType, ports, endpoints: [], ips: new Set() };
        groups.set(key, group);
      }
      if (group.ips.has(address.ip) || group.endpoints.length >= MAX_ENDPOINTS) continue;
      group.ips.add(address.ip);
      group.endpoints.push(sliceEndpoint(address, ready));
    }
  }
  const { name = "", namespace } = endpoints.metadata;
  const labels = sliceLabels(endpoints);
  const owner = {
    apiVersion: "v1",
    kind: "Service",
    name: service.metadata.name ?? "",
    uid: service.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
  const names = new Set<string>();
  return [...groups].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([key, group]) => {
    // two port sets whose hashes meet take the next free name, in key order
    let sliceNameFor = sliceName(name, hashSuffix(key));
    for (let n = 1; names.has(sliceNameFor); n++) {
      sliceNameFor = sliceName(name, hashSuffix(`${key}#${n}`));
    }
    names.add(sliceNameFor);
    return {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: sliceNameFor,
        namespace,
        labels: { ...labels },
        ownerReferences: [{ ...owner }],
      },
      addressType: group.addressType,
      endpoints: group.endpoints,
      ports: group.ports,
    };
  });
}

/** Whether a stored slice already says what `desired` says (labels, owner, contents). */
export function sliceEqual(current: KubeObject, desired: KubeObject): boolean {
  return sameJson(current.metadata.labels ?? {}, desired.metadata.labels ?? {}) &&
    sameJson(current.metadata.ownerReferences ?? [], desired.metadata.ownerReferences ?? []) &&
    current.addressType === desired.addressType &&
    sameJson(current.endpoints ?? [], desired.endpoints ?? []) &&
    sameJson(current.ports ?? [], desired.ports ?? []);
}

/** `current` with the labels, owner and contents of `desired`, for an update. */
export function withDesired(current: KubeObject, desired: KubeObject): KubeObject {
  return {
    ...current,
    metadata: {
      ...current.metadata,
      labels: desired.metadata.labels ?? {},
      ownerReferences: desired.metadata.ownerReferences ?? [],
    },
    addressType: desired.addressType,
    endpoints: desired.endpoints,
    ports: desired.ports,
  };
}
