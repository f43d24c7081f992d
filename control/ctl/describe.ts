/**
 * `ctl describe`: kubectl-style descriptions of ConfigMap, Secret, Pod, Deployment, Service,
 * Node, PersistentVolume, PersistentVolumeClaim and StorageClass, a generic one for every
 * other kind, and the object's events.
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "../../storage/object.ts";
import {
  ANN_BETA_STORAGE_CLASS,
  isDefaultClass,
  podClaimNames,
} from "../../storage/persistent_volumes.ts";
import { errorMessage, isNotFound } from "./_client.ts";
import type { CommandContext } from "./_context.ts";
import { DescribeWriter } from "./_describe_writer.ts";
import { accessModesText } from "../../storage/kinds/persistent_volume.ts";
import { age, field, formatLabels, objects, rfc1123z, str, stringMap } from "./_format.ts";
import { resolveOrThrow, type ResourceInfo, resourcePath } from "./_resources.ts";
import { LAST_APPLIED } from "./_apply_patch.ts";
import { UsageError } from "./_args.ts";

type Obj = Record<string, unknown>;

/** Options of `ctl describe`. */
export interface DescribeOptions {
  allNamespaces: boolean;
  labelSelector?: string;
}

/** Run `ctl describe TYPE [NAME_PREFIX…]`; returns the exit code. */
export async function describe(
  ctx: CommandContext,
  args: string[],
  opts: DescribeOptions,
): Promise<number> {
  if (args.length === 0) throw new UsageError("You must specify the type of resource to describe.");
  let rt: ResourceInfo;
  let names: string[];
  if (args[0]!.includes("/")) {
    const [word, name] = args[0]!.split("/", 2) as [string, string];
    rt = resolveOrThrow(ctx.resources, word);
    names = [name, ...args.slice(1)];
  } else {
    rt = resolveOrThrow(ctx.resources, args[0]!);
    names = args.slice(1);
  }
  const namespace = rt.namespaced && !opts.allNamespaces ? ctx.access.namespace : undefined;
  const errors: unknown[] = [];
  const found: Obj[] = [];
  if (names.length === 0) {
    found.push(...await list(ctx, rt, namespace, opts.labelSelector));
    if (found.length === 0) {
      ctx.err(
        namespace !== undefined
          ? `No resources found in ${namespace} namespace.\n`
          : "No resources found\n",
      );
      return 0;
    }
  }
  for (const name of names) {
    try {
      found.push(await ctx.client.request("GET", resourcePath(rt, namespace, name)));
    } catch (err) {
      if (!isNotFound(err)) {
        errors.push(err);
        continue;
      }
      const prefixed = (await list(ctx, rt, namespace, opts.labelSelector)).filter((o) =>
        str(o, "metadata", "name").startsWith(name)
      );
      if (prefixed.length === 0) errors.push(err);
      found.push(...prefixed);
    }
  }
  let first = true;
  for (const obj of found) {
    const text = await describeObject(ctx, rt, obj);
    ctx.out(first ? text : `\n\n${text}`);
    first = false;
  }
  for (const err of errors) ctx.err(`${errorMessage(err)}\n`);
  return errors.length > 0 ? 1 : 0;
}

async function list(
  ctx: CommandContext,
  rt: ResourceInfo,
  namespace: string | undefined,
  labelSelector: string | undefined,
): Promise<Obj[]> {
  const body = await ctx.client.request("GET", resourcePath(rt, namespace), {
    query: { labelSelector },
  });
  return Array.isArray(body.items) ? body.items.filter(isPlainObject) : [];
}

/** Describe one object, fetching its events (and related objects) from the server. */
export async function describeObject(
  ctx: CommandContext,
  rt: ResourceInfo,
  obj: Obj,
): Promise<string> {
  const events = rt.kind === "Secret" ? undefined : await fetchEvents(ctx, obj);
  const now = ctx.now();
  const described = rt.group === "" || rt.group === "apps" || rt.group === "storage.k8s.io";
  switch (described ? rt.kind : "") {
    case "ConfigMap":
      return describeConfigMap(obj, events, now);
    case "Secret":
      return describeSecret(obj);
    case "Pod":
      return describePod(obj, events, now);
    case "Service":
      return describeService(obj, await fetchEndpoints(ctx, obj), events, now);
    case "Deployment":
      return describeDeployment(obj, await fetchReplicaSets(ctx, obj), events, now);
    case "Node":
      return describeNode(obj, events, now);
    case "PersistentVolume":
      return describePersistentVolume(obj, events, now);
    case "PersistentVolumeClaim":
      return describePersistentVolumeClaim(obj, await fetchClaimPods(ctx, obj), events, now);
    case "StorageClass":
      return describeStorageClass(obj, events, now);
    default:
      return describeGeneric(obj, events, now);
  }
}

async function fetchEvents(ctx: CommandContext, obj: Obj): Promise<Obj[] | undefined> {
  const name = str(obj, "metadata", "name");
  const namespace = str(obj, "metadata", "namespace");
  const uid = str(obj, "metadata", "uid");
  const selector = [`involvedObject.name=${name}`];
  if (namespace) selector.push(`involvedObject.namespace=${namespace}`);
  if (uid && obj.kind !== "Node") selector.push(`involvedObject.uid=${uid}`);
  const path = namespace
    ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/events`
    : "/api/v1/events";
  try {
    const body = await ctx.client.request("GET", path, {
      query: { fieldSelector: selector.join(",") },
    });
    return Array.isArray(body.items) ? body.items.filter(isPlainObject) : [];
  } catch {
    return undefined;
  }
}

async function fetchEndpoints(ctx: CommandContext, svc: Obj): Promise<Obj | undefined> {
  const ns = str(svc, "metadata", "namespace");
  const name = str(svc, "metadata", "name");
  try {
    return await ctx.client.request(
      "GET",
      `/api/v1/namespaces/${encodeURIComponent(ns)}/endpoints/${encodeURIComponent(name)}`,
    );
  } catch {
    return undefined;
  }
}

async function fetchReplicaSets(ctx: CommandContext, deploy: Obj): Promise<Obj[] | undefined> {
  const ns = str(deploy, "metadata", "namespace");
  const uid = str(deploy, "metadata", "uid");
  try {
    const body = await ctx.client.request(
      "GET",
      `/apis/apps/v1/namespaces/${encodeURIComponent(ns)}/replicasets`,
    );
    const items = Array.isArray(body.items) ? body.items.filter(isPlainObject) : [];
    return items.filter((rs) =>
      objects(rs, "metadata", "ownerReferences").some((o) => o.uid === uid && o.controller === true)
    );
  } catch {
    return undefined;
  }
}

/** The pods of a claim's namespace that use it (kubectl's `getPodsForPVC`); [] when unreadable. */
async function fetchClaimPods(ctx: CommandContext, claim: Obj): Promise<Obj[]> {
  const ns = str(claim, "metadata", "namespace");
  try {
    const body = await ctx.client.request(
      "GET",
      `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`,
    );
    return Array.isArray(body.items) ? body.items.filter(isPlainObject) : [];
  } catch {
    return [];
  }
}

function header(w: DescribeWriter, obj: Obj): void {
  w.write(0, `Name:\t${str(obj, "metadata", "name")}\n`);
  w.write(0, `Namespace:\t${str(obj, "metadata", "namespace")}\n`);
  labels(w, obj);
  annotations(w, obj);
}

function labels(w: DescribeWriter, obj: Obj, title = "Labels", path = ["metadata", "labels"]) {
  writeLabelsMultiline(w, "", title, stringMap(obj, ...path));
}

function writeLabelsMultiline(
  w: DescribeWriter,
  indent: string,
  title: string,
  labels: Record<string, string>,
): void {
  w.write(0, `${indent}${title}:\t`);
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) {
    w.write(0, "<none>\n");
    return;
  }
  keys.forEach((key, i) => {
    if (i !== 0) w.write(0, `${indent}\t`);
    w.write(0, `${key}=${labels[key]}\n`);
  });
}

const MAX_ANNOTATION_LEN = 140;

function annotations(w: DescribeWriter, obj: Obj, indent = "", path = ["metadata", "annotations"]) {
  const all = stringMap(obj, ...path);
  w.write(0, `${indent}Annotations:\t`);
  const keys = Object.keys(all).filter((k) => k !== LAST_APPLIED).sort();
  if (keys.length === 0) {
    w.write(0, "<none>\n");
    return;
  }
  keys.forEach((key, i) => {
    if (i !== 0) w.write(0, `${indent}\t`);
    const value = all[key]!.replace(/\n$/, "");
    if (value.length + key.length + 2 > MAX_ANNOTATION_LEN || value.includes("\n")) {
      w.write(0, `${key}:\n`);
      for (const line of value.split("\n")) {
        const short = line.length > MAX_ANNOTATION_LEN - 2
          ? `${line.slice(0, MAX_ANNOTATION_LEN - 2)}...`
          : line;
        w.write(0, `${indent}\t  ${short}\n`);
      }
    } else {
      w.write(0, `${key}: ${value}\n`);
    }
  });
}

/** kubectl's `DescribeEvents`: a table of events, `Events:  <none>` when there are none. */
export function writeEvents(w: DescribeWriter, events: Obj[] | undefined, now: Date): void {
  if (events === undefined) return;
  if (events.length === 0) {
    w.write(0, "Events:\t<none>\n");
    return;
  }
  w.flush();
  const time = (e: Obj) => Date.parse(str(e, "lastTimestamp") || str(e, "eventTime")) || 0;
  const sorted = [...events].sort((a, b) => time(a) - time(b));
  w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
  w.write(1, "----\t------\t----\t----\t-------\n");
  for (const e of sorted) {
    const first = str(e, "eventTime")
      ? age(str(e, "eventTime"), now)
      : age(str(e, "firstTimestamp"), now);
    const count = Number(field(e, "count") ?? 0);
    let interval = first;
    if (isPlainObject(e.series)) {
      interval = `${age(str(e, "series", "lastObservedTime"), now)} (x${
        str(e, "series", "count")
      } over ${first})`;
    } else if (count > 1) {
      interval = `${age(str(e, "lastTimestamp"), now)} (x${count} over ${first})`;
    }
    const source = str(e, "source", "component") || str(e, "reportingComponent") ||
      str(e, "reportingController");
    w.write(
      1,
      `${str(e, "type")}\t${str(e, "reason")}\t${interval}\t${source}\t${
        str(e, "message").trim()
      }\n`,
    );
  }
}

/** `describe configmap` */
export function describeConfigMap(cm: Obj, events: Obj[] | undefined, now: Date): string {
  const w = new DescribeWriter();
  header(w, cm);
  w.write(0, "\nData\n====\n");
  const data = stringMap(cm, "data");
  for (const key of Object.keys(data).sort()) {
    w.write(0, `${key}:\n----\n`);
    w.write(0, `${data[key]}\n`);
    w.write(0, "\n");
  }
  w.write(0, "\nBinaryData\n====\n");
  const binary = stringMap(cm, "binaryData");
  for (const key of Object.keys(binary).sort()) {
    w.write(0, `${key}: ${base64Length(binary[key]!)} bytes\n`);
  }
  w.write(0, "\n");
  writeEvents(w, events, now);
  return w.toString();
}

function base64Length(data: string): number {
  const clean = data.replace(/\s/g, "");
  const pad = clean.endsWith("==") ? 2 : clean.endsWith("=") ? 1 : 0;
  return Math.floor((clean.length * 3) / 4) - pad;
}

/** `describe secret`: data sizes, never values (except a service account token). */
export function describeSecret(secret: Obj): string {
  const w = new DescribeWriter();
  header(w, secret);
  const type = str(secret, "type");
  w.write(0, `\nType:\t${type}\n`);
  w.write(0, "\nData\n====\n");
  const data = stringMap(secret, "data");
  for (const key of Object.keys(data).sort()) {
    if (key === "token" && type === "kubernetes.io/service-account-token") {
      w.write(0, `${key}:\t${atob(data[key]!)}\n`);
    } else {
      w.write(0, `${key}:\t${base64Length(data[key]!)} bytes\n`);
    }
  }
  return w.toString();
}

const printBool = (v: unknown) => (v === true ? "True" : "False");

function controller(obj: Obj): string {
  const owner = objects(obj, "metadata", "ownerReferences").find((o) => o.controller === true);
  return owner ? `${owner.kind}/${owner.name}` : "";
}

/** `describe pod` */
export function describePod(pod: Obj, events: Obj[] | undefined, now: Date): string {
  const w = new DescribeWriter();
  w.write(0, `Name:\t${str(pod, "metadata", "name")}\n`);
  w.write(0, `Namespace:\t${str(pod, "metadata", "namespace")}\n`);
  if (field(pod, "spec", "priority") !== undefined) {
    w.write(0, `Priority:\t${str(pod, "spec", "priority")}\n`);
  }
  if (str(pod, "spec", "priorityClassName")) {
    w.write(0, `Priority Class Name:\t${str(pod, "spec", "priorityClassName")}\n`);
  }
  if (str(pod, "spec", "serviceAccountName")) {
    w.write(0, `Service Account:\t${str(pod, "spec", "serviceAccountName")}\n`);
  }
  const node = str(pod, "spec", "nodeName");
  w.write(0, `Node:\t${node ? `${node}/${str(pod, "status", "hostIP")}` : "<none>"}\n`);
  if (str(pod, "status", "startTime")) {
    w.write(0, `Start Time:\t${rfc1123z(str(pod, "status", "startTime"))}\n`);
  }
  labels(w, pod);
  annotations(w, pod);
  const deletion = str(pod, "metadata", "deletionTimestamp");
  if (deletion) {
    w.write(0, `Status:\tTerminating (lasts ${age(deletion, now)})\n`);
    w.write(
      0,
      `Termination Grace Period:\t${str(pod, "metadata", "deletionGracePeriodSeconds")}s\n`,
    );
  } else {
    w.write(0, `Status:\t${str(pod, "status", "phase")}\n`);
  }
  if (str(pod, "status", "reason")) w.write(0, `Reason:\t${str(pod, "status", "reason")}\n`);
  if (str(pod, "status", "message")) w.write(0, `Message:\t${str(pod, "status", "message")}\n`);
  w.write(0, `IP:\t${str(pod, "status", "podIP")}\n`);
  const ips = objects(pod, "status", "podIPs");
  if (ips.length === 0) w.write(0, "IPs:\t<none>\n");
  else {
    w.write(0, "IPs:\n");
    for (const ip of ips) w.write(1, `IP:\t${str(ip, "ip")}\n`);
  }
  const owner = controller(pod);
  if (owner) w.write(0, `Controlled By:\t${owner}\n`);
  const statuses = new Map<string, Obj>();
  for (const s of objects(pod, "status", "initContainerStatuses")) statuses.set(str(s, "name"), s);
  for (const s of objects(pod, "status", "containerStatuses")) statuses.set(str(s, "name"), s);
  const init = objects(pod, "spec", "initContainers");
  if (init.length > 0) writeContainers(w, "Init Containers", init, statuses, "");
  writeContainers(w, "Containers", objects(pod, "spec", "containers"), statuses, "");
  const conditions = objects(pod, "status", "conditions");
  if (conditions.length > 0) {
    w.write(0, "Conditions:\n  Type\tStatus\n");
    for (const c of conditions) w.write(1, `${str(c, "type")} \t${str(c, "status")} \n`);
  }
  writeVolumes(w, objects(pod, "spec", "volumes"), "");
  w.write(0, `QoS Class:\t${str(pod, "status", "qosClass") || qosClass(pod)}\n`);
  writeLabelsMultiline(w, "", "Node-Selectors", stringMap(pod, "spec", "nodeSelector"));
  writeTolerations(w, "", objects(pod, "spec", "tolerations"));
  writeEvents(w, events, now);
  return w.toString();
}

function qosClass(pod: Obj): string {
  const containers = objects(pod, "spec", "containers");
  const res = containers.map((c) => ({
    requests: stringMap(c, "resources", "requests"),
    limits: stringMap(c, "resources", "limits"),
  }));
  if (res.every((r) => Object.keys(r.requests).length + Object.keys(r.limits).length === 0)) {
    return "BestEffort";
  }
  const guaranteed = res.every((r) =>
    ["cpu", "memory"].every((k) =>
      r.limits[k] !== undefined && (r.requests[k] === undefined || r.requests[k] === r.limits[k])
    )
  );
  return guaranteed ? "Guaranteed" : "Burstable";
}

function writeTolerations(w: DescribeWriter, indent: string, tolerations: Obj[]): void {
  w.write(0, `${indent}Tolerations:\t`);
  if (tolerations.length === 0) {
    w.write(0, "<none>\n");
    return;
  }
  tolerations.forEach((t, i) => {
    if (i !== 0) w.write(0, `${indent}\t`);
    let text = str(t, "key");
    if (str(t, "value")) text += `=${str(t, "value")}`;
    if (str(t, "effect")) text += `:${str(t, "effect")}`;
    if (str(t, "operator") === "Exists" && !str(t, "value")) text += " op=Exists";
    if (field(t, "tolerationSeconds") !== undefined) {
      text += ` for ${str(t, "tolerationSeconds")}s`;
    }
    w.write(0, `${text}\n`);
  });
}

function portList(ports: Obj[], key: "containerPort" | "hostPort"): string {
  return ports.map((p) => `${Number(field(p, key) ?? 0)}/${str(p, "protocol") || "TCP"}`).join(
    ",",
  );
}

function writeContainers(
  w: DescribeWriter,
  label: string,
  containers: Obj[],
  statuses: Map<string, Obj>,
  space: string,
): void {
  w.write(0, `${space}${label}:\n`);
  for (const c of containers) {
    const status = statuses.get(str(c, "name"));
    w.write(1, `${space ? " " : ""}${str(c, "name")}:\n`);
    if (status) w.write(2, `Container ID:\t${str(status, "containerID")}\n`);
    w.write(2, `Image:\t${str(c, "image")}\n`);
    if (status) w.write(2, `Image ID:\t${str(status, "imageID")}\n`);
    const ports = objects(c, "ports");
    const port = portList(ports, "containerPort");
    w.write(2, `${port.includes(",") ? "Ports" : "Port"}:\t${port || "<none>"}\n`);
    const hostPort = portList(ports, "hostPort");
    w.write(
      2,
      `${hostPort.includes(",") ? "Host Ports" : "Host Port"}:\t${hostPort || "<none>"}\n`,
    );
    for (const [key, title] of [["command", "Command"], ["args", "Args"]] as const) {
      const parts = field(c, key);
      if (Array.isArray(parts) && parts.length > 0) {
        w.write(2, `${title}:\n`);
        for (const part of parts) {
          for (const line of String(part).split("\n")) w.write(3, `${line}\n`);
        }
      }
    }
    if (status) {
      writeState(w, "State", field(status, "state"));
      if (isPlainObject(field(status, "lastState", "terminated"))) {
        writeState(w, "Last State", field(status, "lastState"));
      }
      w.write(2, `Ready:\t${printBool(field(status, "ready"))}\n`);
      w.write(2, `Restart Count:\t${Number(field(status, "restartCount") ?? 0)}\n`);
    }
    for (const [key, title] of [["limits", "Limits"], ["requests", "Requests"]] as const) {
      const values = stringMap(c, "resources", key);
      const names = Object.keys(values).sort();
      if (names.length === 0) continue;
      w.write(2, `${title}:\n`);
      for (const name of names) w.write(3, `${name}:\t${values[name]}\n`);
    }
    const env = objects(c, "env");
    if (env.length === 0) w.write(2, "Environment:\t<none>\n");
    else {
      w.write(2, "Environment:\n");
      for (const e of env) w.write(3, `${str(e, "name")}:\t${envValue(e)}\n`);
    }
    const mounts = objects(c, "volumeMounts");
    if (mounts.length === 0) w.write(2, "Mounts:\t<none>\n");
    else {
      w.write(2, "Mounts:\n");
      for (const m of mounts) {
        const sub = str(m, "subPath") ? `,path="${str(m, "subPath")}"` : "";
        const mode = field(m, "readOnly") === true ? "ro" : "rw";
        w.write(3, `${str(m, "mountPath")} from ${str(m, "name")} (${mode}${sub})\n`);
      }
    }
  }
}

function envValue(e: Obj): string {
  if (field(e, "valueFrom") === undefined) return str(e, "value");
  const cm = field(e, "valueFrom", "configMapKeyRef");
  if (isPlainObject(cm)) {
    return `<set to the key '${str(cm, "key")}' of config map '${str(cm, "name")}'>\tOptional: ${
      cm.optional === true ? "true" : "false"
    }`;
  }
  const secret = field(e, "valueFrom", "secretKeyRef");
  if (isPlainObject(secret)) {
    return `<set to the key '${str(secret, "key")}' in secret '${
      str(secret, "name")
    }'>\tOptional: ${secret.optional === true ? "true" : "false"}`;
  }
  const ref = field(e, "valueFrom", "fieldRef");
  if (isPlainObject(ref)) {
    return ` (${str(ref, "apiVersion") || "v1"}:${str(ref, "fieldPath")})`;
  }
  return "";
}

function writeState(w: DescribeWriter, title: string, state: unknown): void {
  const running = field(state, "running");
  const waiting = field(state, "waiting");
  const terminated = field(state, "terminated");
  if (isPlainObject(running)) {
    w.write(2, `${title}:\tRunning\n`);
    w.write(3, `Started:\t${rfc1123z(running.startedAt)}\n`);
  } else if (isPlainObject(terminated)) {
    w.write(2, `${title}:\tTerminated\n`);
    if (str(terminated, "reason")) w.write(3, `Reason:\t${str(terminated, "reason")}\n`);
    if (str(terminated, "message")) w.write(3, `Message:\t${str(terminated, "message")}\n`);
    w.write(3, `Exit Code:\t${Number(terminated.exitCode ?? 0)}\n`);
    w.write(3, `Started:\t${rfc1123z(terminated.startedAt)}\n`);
    w.write(3, `Finished:\t${rfc1123z(terminated.finishedAt)}\n`);
  } else {
    w.write(2, `${title}:\tWaiting\n`);
    if (isPlainObject(waiting) && str(waiting, "reason")) {
      w.write(3, `Reason:\t${str(waiting, "reason")}\n`);
    }
  }
}

function writeVolumes(w: DescribeWriter, volumes: Obj[], space: string): void {
  if (volumes.length === 0) {
    w.write(0, `${space}Volumes:\t<none>\n`);
    return;
  }
  w.write(0, `${space}Volumes:\n`);
  for (const v of volumes) {
    w.write(0, `${space}  ${str(v, "name")}:\n`);
    const at = `${space}    `;
    if (isPlainObject(v.emptyDir)) {
      w.write(0, `${at}Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n`);
      w.write(0, `${at}Medium:\t${str(v, "emptyDir", "medium")}\n`);
      w.write(0, `${at}SizeLimit:\t${str(v, "emptyDir", "sizeLimit") || "<unset>"}\n`);
    } else if (isPlainObject(v.configMap)) {
      w.write(0, `${at}Type:\tConfigMap (a volume populated by a ConfigMap)\n`);
      w.write(0, `${at}Name:\t${str(v, "configMap", "name")}\n`);
      w.write(0, `${at}Optional:\t${field(v, "configMap", "optional") === true}\n`);
    } else if (isPlainObject(v.secret)) {
      w.write(0, `${at}Type:\tSecret (a volume populated by a Secret)\n`);
      w.write(0, `${at}SecretName:\t${str(v, "secret", "secretName")}\n`);
      w.write(0, `${at}Optional:\t${field(v, "secret", "optional") === true}\n`);
    } else if (isPlainObject(v.hostPath)) {
      w.write(0, `${at}Type:\tHostPath (bare host directory volume)\n`);
      w.write(0, `${at}Path:\t${str(v, "hostPath", "path")}\n`);
      w.write(0, `${at}HostPathType:\t${str(v, "hostPath", "type")}\n`);
    } else if (isPlainObject(v.persistentVolumeClaim)) {
      w.write(
        0,
        `${at}Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n`,
      );
      w.write(0, `${at}ClaimName:\t${str(v, "persistentVolumeClaim", "claimName")}\n`);
      w.write(
        0,
        `${at}ReadOnly:\t${field(v, "persistentVolumeClaim", "readOnly") === true}\n`,
      );
    } else {
      w.write(0, `${at}<unknown>\n`);
    }
  }
}

/** `describe service` */
export function describeService(
  svc: Obj,
  endpoints: Obj | undefined,
  events: Obj[] | undefined,
  now: Date,
): string {
  const w = new DescribeWriter();
  header(w, svc);
  w.write(0, `Selector:\t${formatLabels(field(svc, "spec", "selector")).replace("<none>", "")}\n`);
  w.write(0, `Type:\t${str(svc, "spec", "type")}\n`);
  if (str(svc, "spec", "ipFamilyPolicy")) {
    w.write(0, `IP Family Policy:\t${str(svc, "spec", "ipFamilyPolicy")}\n`);
  }
  const families = field(svc, "spec", "ipFamilies");
  if (Array.isArray(families) && families.length > 0) {
    w.write(0, `IP Families:\t${families.join(",")}\n`);
  }
  w.write(0, `IP:\t${str(svc, "spec", "clusterIP")}\n`);
  const ips = field(svc, "spec", "clusterIPs");
  if (Array.isArray(ips) && ips.length > 0) w.write(0, `IPs:\t${ips.join(",")}\n`);
  const external = field(svc, "spec", "externalIPs");
  if (Array.isArray(external) && external.length > 0) {
    w.write(0, `External IPs:\t${external.join(",")}\n`);
  }
  if (str(svc, "spec", "externalName")) {
    w.write(0, `External Name:\t${str(svc, "spec", "externalName")}\n`);
  }
  for (const p of objects(svc, "spec", "ports")) {
    const name = str(p, "name") || "<unset>";
    const protocol = str(p, "protocol") || "TCP";
    w.write(0, `Port:\t${name}\t${str(p, "port")}/${protocol}\n`);
    w.write(0, `TargetPort:\t${str(p, "targetPort") || str(p, "port")}/${protocol}\n`);
    if (field(p, "nodePort")) w.write(0, `NodePort:\t${name}\t${str(p, "nodePort")}/${protocol}\n`);
    w.write(0, `Endpoints:\t${formatEndpoints(endpoints, str(p, "name"))}\n`);
  }
  w.write(0, `Session Affinity:\t${str(svc, "spec", "sessionAffinity") || "None"}\n`);
  if (str(svc, "spec", "externalTrafficPolicy")) {
    w.write(0, `External Traffic Policy:\t${str(svc, "spec", "externalTrafficPolicy")}\n`);
  }
  if (str(svc, "spec", "internalTrafficPolicy")) {
    w.write(0, `Internal Traffic Policy:\t${str(svc, "spec", "internalTrafficPolicy")}\n`);
  }
  writeEvents(w, events, now);
  return w.toString();
}

/** kubectl's `formatEndpoints`: `ip:port` of ready addresses for one port, at most 3 shown. */
function formatEndpoints(endpoints: Obj | undefined, portName: string): string {
  const list: string[] = [];
  let count = 0;
  for (const subset of objects(endpoints, "subsets")) {
    const port = objects(subset, "ports").find((p) => str(p, "name") === portName);
    for (const address of objects(subset, "addresses")) {
      count++;
      if (list.length < 3) {
        list.push(port ? `${str(address, "ip")}:${str(port, "port")}` : str(address, "ip"));
      }
    }
  }
  if (count === 0) return "<none>";
  const more = count > list.length ? ` + ${count - list.length} more...` : "";
  return list.join(",") + more;
}

/** `describe deployment` */
export function describeDeployment(
  d: Obj,
  replicaSets: Obj[] | undefined,
  events: Obj[] | undefined,
  now: Date,
): string {
  const w = new DescribeWriter();
  w.write(0, `Name:\t${str(d, "metadata", "name")}\n`);
  w.write(0, `Namespace:\t${str(d, "metadata", "namespace")}\n`);
  w.write(0, `CreationTimestamp:\t${rfc1123z(str(d, "metadata", "creationTimestamp"))}\n`);
  labels(w, d);
  annotations(w, d);
  w.write(0, `Selector:\t${selectorText(field(d, "spec", "selector"))}\n`);
  const n = (...path: string[]) => Number(field(d, ...path) ?? 0);
  const desired = field(d, "spec", "replicas") ?? 1;
  w.write(
    0,
    `Replicas:\t${desired} desired | ${n("status", "updatedReplicas")} updated | ${
      n("status", "replicas")
    } total | ${n("status", "availableReplicas")} available | ${
      n("status", "unavailableReplicas")
    } unavailable\n`,
  );
  const strategy = str(d, "spec", "strategy", "type") || "RollingUpdate";
  w.write(0, `StrategyType:\t${strategy}\n`);
  w.write(0, `MinReadySeconds:\t${n("spec", "minReadySeconds")}\n`);
  if (strategy === "RollingUpdate") {
    const unavailable = str(d, "spec", "strategy", "rollingUpdate", "maxUnavailable") || "25%";
    const surge = str(d, "spec", "strategy", "rollingUpdate", "maxSurge") || "25%";
    w.write(0, `RollingUpdateStrategy:\t${unavailable} max unavailable, ${surge} max surge\n`);
  }
  const template = field(d, "spec", "template");
  w.write(0, "Pod Template:\n");
  writeLabelsMultiline(w, "  ", "Labels", stringMap(template, "metadata", "labels"));
  if (Object.keys(stringMap(template, "metadata", "annotations")).length > 0) {
    annotations(w, template as Obj, "  ");
  }
  if (str(template, "spec", "serviceAccountName")) {
    w.write(1, `Service Account:\t${str(template, "spec", "serviceAccountName")}\n`);
  }
  const init = objects(template, "spec", "initContainers");
  if (init.length > 0) writeContainers(w, "Init Containers", init, new Map(), "  ");
  writeContainers(w, "Containers", objects(template, "spec", "containers"), new Map(), "  ");
  writeVolumes(w, objects(template, "spec", "volumes"), "  ");
  writeLabelsMultiline(w, "  ", "Node-Selectors", stringMap(template, "spec", "nodeSelector"));
  writeTolerations(w, "  ", objects(template, "spec", "tolerations"));
  const conditions = objects(d, "status", "conditions");
  if (conditions.length > 0) {
    w.write(0, "Conditions:\n  Type\tStatus\tReason\n");
    w.write(1, "----\t------\t------\n");
    for (const c of conditions) {
      w.write(1, `${str(c, "type")} \t${str(c, "status")}\t${str(c, "reason")}\n`);
    }
  }
  if (replicaSets !== undefined) {
    const revision = str(d, "metadata", "annotations", "deployment.kubernetes.io/revision");
    const isNew = (rs: Obj) =>
      revision !== "" &&
      str(rs, "metadata", "annotations", "deployment.kubernetes.io/revision") === revision;
    const format = (list: Obj[]) =>
      list.length === 0
        ? "<none>"
        : list.map((rs) =>
          `${str(rs, "metadata", "name")} (${Number(field(rs, "status", "replicas") ?? 0)}/${
            Number(field(rs, "spec", "replicas") ?? 0)
          } replicas created)`
        ).join(", ");
    w.write(0, `OldReplicaSets:\t${format(replicaSets.filter((rs) => !isNew(rs)))}\n`);
    w.write(0, `NewReplicaSet:\t${format(replicaSets.filter(isNew))}\n`);
  }
  writeEvents(w, events, now);
  return w.toString();
}

/** `metav1.FormatLabelSelector`: `app=web,tier in (a,b)`. */
function selectorText(selector: unknown): string {
  const parts: string[] = [];
  const labels = stringMap(selector, "matchLabels");
  for (const key of Object.keys(labels).sort()) parts.push(`${key}=${labels[key]}`);
  for (const e of objects(selector, "matchExpressions")) {
    const values = Array.isArray(e.values) ? e.values.join(",") : "";
    const key = str(e, "key");
    switch (str(e, "operator")) {
      case "In":
        parts.push(`${key} in (${values})`);
        break;
      case "NotIn":
        parts.push(`${key} notin (${values})`);
        break;
      case "Exists":
        parts.push(key);
        break;
      case "DoesNotExist":
        parts.push(`!${key}`);
        break;
    }
  }
  return parts.length === 0 ? "<none>" : parts.join(",");
}

/** `describe node` */
export function describeNode(node: Obj, events: Obj[] | undefined, now: Date): string {
  const w = new DescribeWriter();
  w.write(0, `Name:\t${str(node, "metadata", "name")}\n`);
  const labelMap = stringMap(node, "metadata", "labels");
  const roles = Object.keys(labelMap).filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length)).filter((r) => r !== "").sort();
  w.write(0, `Roles:\t${roles.length > 0 ? roles.join(",") : "<none>"}\n`);
  labels(w, node);
  annotations(w, node);
  w.write(0, `CreationTimestamp:\t${rfc1123z(str(node, "metadata", "creationTimestamp"))}\n`);
  const taints = objects(node, "spec", "taints");
  w.write(0, "Taints:\t");
  if (taints.length === 0) w.write(0, "<none>\n");
  taints.forEach((t, i) => {
    if (i !== 0) w.write(0, "\t");
    const value = str(t, "value") ? `=${str(t, "value")}` : "";
    w.write(0, `${str(t, "key")}${value}:${str(t, "effect")}\n`);
  });
  w.write(0, `Unschedulable:\t${field(node, "spec", "unschedulable") === true}\n`);
  const conditions = objects(node, "status", "conditions");
  if (conditions.length > 0) {
    w.write(
      0,
      "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n",
    );
    w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n");
    for (const c of conditions) {
      w.write(
        1,
        `${str(c, "type")} \t${str(c, "status")} \t${rfc1123z(str(c, "lastHeartbeatTime"))} \t${
          rfc1123z(str(c, "lastTransitionTime"))
        } \t${str(c, "reason")} \t${str(c, "message")}\n`,
      );
    }
  }
  w.write(0, "Addresses:\n");
  for (const a of objects(node, "status", "addresses")) {
    w.write(1, `${str(a, "type")}:\t${str(a, "address")}\n`);
  }
  for (const [key, title] of [["capacity", "Capacity"], ["allocatable", "Allocatable"]]) {
    const values = stringMap(node, "status", key!);
    if (Object.keys(values).length === 0) continue;
    w.write(0, `${title}:\n`);
    for (const name of Object.keys(values).sort()) w.write(1, `${name}:\t${values[name]}\n`);
  }
  const info = field(node, "status", "nodeInfo");
  if (isPlainObject(info)) {
    w.write(0, "System Info:\n");
    const rows: [string, string][] = [
      ["Machine ID", "machineID"],
      ["System UUID", "systemUUID"],
      ["Boot ID", "bootID"],
      ["Kernel Version", "kernelVersion"],
      ["OS Image", "osImage"],
      ["Operating System", "operatingSystem"],
      ["Architecture", "architecture"],
      ["Container Runtime Version", "containerRuntimeVersion"],
      ["Kubelet Version", "kubeletVersion"],
    ];
    for (const [title, key] of rows) w.write(1, `${title}:\t${str(info, key)}\n`);
  }
  if (str(node, "spec", "podCIDR")) w.write(0, `PodCIDR:\t${str(node, "spec", "podCIDR")}\n`);
  const cidrs = field(node, "spec", "podCIDRs");
  if (Array.isArray(cidrs) && cidrs.length > 0) w.write(0, `PodCIDRs:\t${cidrs.join(",")}\n`);
  writeEvents(w, events, now);
  return w.toString();
}

/** Go's `%v` of a string slice: `[a b]`, `[]` when empty. */
function goList(values: unknown): string {
  return `[${Array.isArray(values) ? values.map(String).join(" ") : ""}]`;
}

function writeStatusOrTerminating(w: DescribeWriter, obj: Obj, now: Date): void {
  const deletion = str(obj, "metadata", "deletionTimestamp");
  if (deletion) w.write(0, `Status:\tTerminating (lasts ${age(deletion, now)})\n`);
  else w.write(0, `Status:\t${str(obj, "status", "phase")}\n`);
}

/** The class of a volume or claim as kubectl's storage helpers read it: beta annotation first. */
function storageClassOf(obj: Obj): string {
  const annotated = field(obj, "metadata", "annotations", ANN_BETA_STORAGE_CLASS);
  return typeof annotated === "string" ? annotated : str(obj, "spec", "storageClassName");
}

function accessModes(obj: Obj, ...path: string[]): string {
  const modes = field(obj, ...path);
  return Array.isArray(modes) ? accessModesText(modes) : "";
}

/** kubectl's `printVolumeNodeAffinity`. */
function writeVolumeNodeAffinity(w: DescribeWriter, pv: Obj): void {
  w.write(0, "Node Affinity:\t");
  const required = field(pv, "spec", "nodeAffinity", "required");
  if (!isPlainObject(required)) {
    w.write(0, "<none>\n");
    return;
  }
  w.write(0, "\n");
  w.write(1, "Required Terms:\t");
  const terms = objects(required, "nodeSelectorTerms");
  if (terms.length === 0) {
    w.write(0, "<none>\n");
    return;
  }
  w.write(0, "\n");
  for (const [i, term] of terms.entries()) {
    w.write(2, `Term ${i}:\t`);
    const reqs = objects(term, "matchExpressions");
    if (reqs.length === 0) w.write(0, "<none>\n");
    for (const [j, req] of reqs.entries()) {
      if (j !== 0) w.write(2, "\t");
      const values = Array.isArray(req.values) ? req.values.map(String) : [];
      const expr = `${str(req, "key")} ${str(req, "operator").toLowerCase()}`;
      w.write(0, `${values.length > 0 ? `${expr} [${values.join(", ")}]` : expr}\n`);
    }
  }
}

/** `describe persistentvolume` */
export function describePersistentVolume(
  pv: Obj,
  events: Obj[] | undefined,
  now: Date,
): string {
  const w = new DescribeWriter();
  w.write(0, `Name:\t${str(pv, "metadata", "name")}\n`);
  labels(w, pv);
  annotations(w, pv);
  w.write(0, `Finalizers:\t${goList(field(pv, "metadata", "finalizers"))}\n`);
  w.write(0, `StorageClass:\t${storageClassOf(pv)}\n`);
  writeStatusOrTerminating(w, pv, now);
  const claim = field(pv, "spec", "claimRef");
  w.write(
    0,
    `Claim:\t${isPlainObject(claim) ? `${str(claim, "namespace")}/${str(claim, "name")}` : ""}\n`,
  );
  w.write(0, `Reclaim Policy:\t${str(pv, "spec", "persistentVolumeReclaimPolicy")}\n`);
  w.write(0, `Access Modes:\t${accessModes(pv, "spec", "accessModes")}\n`);
  if (str(pv, "spec", "volumeMode")) w.write(0, `VolumeMode:\t${str(pv, "spec", "volumeMode")}\n`);
  w.write(0, `Capacity:\t${str(pv, "spec", "capacity", "storage") || "0"}\n`);
  writeVolumeNodeAffinity(w, pv);
  w.write(0, `Message:\t${str(pv, "status", "message")}\n`);
  w.write(0, "Source:\n");
  const hostPath = field(pv, "spec", "hostPath");
  const local = field(pv, "spec", "local");
  if (isPlainObject(hostPath)) {
    w.write(2, "Type:\tHostPath (bare host directory volume)\n");
    w.write(0, `    Path:\t${str(hostPath, "path")}\n`);
    const type = field(hostPath, "type");
    w.write(0, `    HostPathType:\t${typeof type === "string" ? type : "<none>"}\n`);
  } else if (isPlainObject(local)) {
    w.write(2, "Type:\tLocalVolume (a persistent volume backed by local storage on a node)\n");
    w.write(0, `    Path:\t${str(local, "path")}\n`);
  } else {
    w.write(1, "<unknown>\n");
  }
  writeEvents(w, events, now);
  return w.toString();
}

/** The pods among `pods` that use `claim`, by volume or as its owner, sorted by name. */
function podsUsing(claim: Obj, pods: Obj[]): string[] {
  const name = str(claim, "metadata", "name");
  const owners = new Set(
    objects(claim, "metadata", "ownerReferences").filter((o) => o.kind === "Pod").map((o) =>
      str(o, "uid")
    ),
  );
  const using = pods.filter((pod) =>
    podClaimNames(pod as unknown as KubeObject).includes(name) ||
    owners.has(str(pod, "metadata", "uid"))
  );
  return [...new Set(using.map((pod) => str(pod, "metadata", "name")))].sort();
}

/** `describe persistentvolumeclaim`; `pods` are the claim's namespace's pods. */
export function describePersistentVolumeClaim(
  pvc: Obj,
  pods: Obj[],
  events: Obj[] | undefined,
  now: Date,
): string {
  const w = new DescribeWriter();
  w.write(0, `Name:\t${str(pvc, "metadata", "name")}\n`);
  w.write(0, `Namespace:\t${str(pvc, "metadata", "namespace")}\n`);
  w.write(0, `StorageClass:\t${storageClassOf(pvc)}\n`);
  writeStatusOrTerminating(w, pvc, now);
  const volume = str(pvc, "spec", "volumeName");
  w.write(0, `Volume:\t${volume}\n`);
  labels(w, pvc);
  annotations(w, pvc);
  w.write(0, `Finalizers:\t${goList(field(pvc, "metadata", "finalizers"))}\n`);
  const capacity = volume ? str(pvc, "status", "capacity", "storage") || "0" : "";
  w.write(0, `Capacity:\t${capacity}\n`);
  w.write(0, `Access Modes:\t${volume ? accessModes(pvc, "status", "accessModes") : ""}\n`);
  if (str(pvc, "spec", "volumeMode")) {
    w.write(0, `VolumeMode:\t${str(pvc, "spec", "volumeMode")}\n`);
  }
  const source = field(pvc, "spec", "dataSource");
  if (isPlainObject(source)) {
    w.write(0, "DataSource:\n");
    if (str(source, "apiGroup")) w.write(1, `APIGroup:\t${str(source, "apiGroup")}\n`);
    w.write(1, `Kind:\t${str(source, "kind")}\n`);
    w.write(1, `Name:\t${str(source, "name")}\n`);
  }
  w.write(0, "Used By:\t");
  const users = podsUsing(pvc, pods);
  if (users.length === 0) w.write(0, "<none>\n");
  users.forEach((name, i) => w.write(0, `${i === 0 ? "" : "\t"}${name}\n`));
  const conditions = objects(pvc, "status", "conditions");
  if (conditions.length > 0) {
    w.write(0, "Conditions:\n");
    w.write(1, "Type\tStatus\tLastProbeTime\tLastTransitionTime\tReason\tMessage\n");
    w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n");
    for (const c of conditions) {
      w.write(
        1,
        `${str(c, "type")} \t${str(c, "status")} \t${rfc1123z(str(c, "lastProbeTime"))} \t${
          rfc1123z(str(c, "lastTransitionTime"))
        } \t${str(c, "reason")} \t${str(c, "message")}\n`,
      );
    }
  }
  writeEvents(w, events, now);
  return w.toString();
}

/** `describe storageclass` */
export function describeStorageClass(sc: Obj, events: Obj[] | undefined, now: Date): string {
  const w = new DescribeWriter();
  w.write(0, `Name:\t${str(sc, "metadata", "name")}\n`);
  const annotated = {
    apiVersion: "",
    kind: "",
    metadata: { annotations: stringMap(sc, "metadata", "annotations") },
  };
  w.write(0, `IsDefaultClass:\t${isDefaultClass(annotated) ? "Yes" : "No"}\n`);
  w.write(0, `Annotations:\t${formatLabels(field(sc, "metadata", "annotations"))}\n`);
  w.write(0, `Provisioner:\t${str(sc, "provisioner")}\n`);
  w.write(0, `Parameters:\t${formatLabels(field(sc, "parameters"))}\n`);
  const expansion = field(sc, "allowVolumeExpansion");
  w.write(
    0,
    `AllowVolumeExpansion:\t${
      typeof expansion === "boolean" ? (expansion ? "True" : "False") : "<unset>"
    }\n`,
  );
  const options = field(sc, "mountOptions");
  if (!Array.isArray(options) || options.length === 0) w.write(0, "MountOptions:\t<none>\n");
  else {
    w.write(0, "MountOptions:\n");
    for (const option of options) w.write(1, `${String(option)}\n`);
  }
  if (str(sc, "reclaimPolicy")) w.write(0, `ReclaimPolicy:\t${str(sc, "reclaimPolicy")}\n`);
  if (str(sc, "volumeBindingMode")) {
    w.write(0, `VolumeBindingMode:\t${str(sc, "volumeBindingMode")}\n`);
  }
  const topologies = field(sc, "allowedTopologies");
  if (Array.isArray(topologies)) {
    w.write(0, "AllowedTopologies:\t");
    if (topologies.length === 0) w.write(0, "<none>\n");
    else w.write(0, "\n");
    for (const [i, term] of topologies.filter(isPlainObject).entries()) {
      w.write(1, `Term ${i}:\t`);
      const reqs = objects(term, "matchLabelExpressions");
      if (reqs.length === 0) w.write(0, "<none>\n");
      for (const [j, req] of reqs.entries()) {
        if (j !== 0) w.write(1, "\t");
        const values = Array.isArray(req.values) ? req.values.map(String) : [];
        const expr = `${str(req, "key")} in`;
        w.write(0, `${values.length > 0 ? `${expr} [${values.join(", ")}]` : expr}\n`);
      }
    }
  }
  writeEvents(w, events, now);
  return w.toString();
}

const INITIALISMS = new Set([
  "acl",
  "api",
  "ascii",
  "cpu",
  "css",
  "dns",
  "eof",
  "guid",
  "html",
  "http",
  "https",
  "id",
  "ip",
  "json",
  "lhs",
  "qps",
  "ram",
  "rhs",
  "rpc",
  "sla",
  "smtp",
  "sql",
  "ssh",
  "tcp",
  "tls",
  "ttl",
  "udp",
  "ui",
  "uid",
  "uuid",
  "uri",
  "url",
  "utf8",
  "vm",
  "xml",
  "xmpp",
  "xsrf",
  "xss",
]);

/** kubectl's `smartLabelFor`: `apiVersion` → `API Version`, `creationTimestamp` → `Creation Timestamp`. */
export function smartLabel(field: string): string {
  const words = field.replace(/([a-z0-9])([A-Z])/g, "$1 $2").split(/[\s_-]+/).filter(Boolean);
  return words.map((word) => {
    const lower = word.toLowerCase();
    if (INITIALISMS.has(lower)) return lower.toUpperCase();
    return word[0]!.toUpperCase() + word.slice(1);
  }).join(" ");
}

const GENERIC_SKIP = [
  ".metadata.managedFields",
  ".metadata.name",
  ".metadata.namespace",
  ".metadata.labels",
  ".metadata.annotations",
];

function writeUnstructured(w: DescribeWriter, level: number, content: Obj, prefix: string): void {
  for (const key of Object.keys(content).sort()) {
    const value = content[key];
    const path = `${prefix}.${key}`;
    if (GENERIC_SKIP.includes(path)) continue;
    if (isPlainObject(value)) {
      w.write(level, `${smartLabel(key)}:\n`);
      writeUnstructured(w, level + 1, value, path);
    } else if (Array.isArray(value)) {
      w.write(level, `${smartLabel(key)}:\n`);
      for (const child of value) {
        if (isPlainObject(child)) writeUnstructured(w, level + 1, child, path);
        else w.write(level + 1, `${goValue(child)}\n`);
      }
    } else {
      w.write(level, `${smartLabel(key)}:\t${goValue(value)}\n`);
    }
  }
}

function goValue(value: unknown): string {
  return value === null ? "<nil>" : String(value);
}

/** kubectl's generic describer: metadata, then every field as an indented outline. */
export function describeGeneric(obj: Obj, events: Obj[] | undefined, now: Date): string {
  const w = new DescribeWriter();
  header(w, obj);
  writeUnstructured(w, 0, obj, "");
  writeEvents(w, events, now);
  return w.toString();
}
