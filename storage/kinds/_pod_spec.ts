/**
 * core/v1 PodSpec and PodTemplateSpec: the schema (with Kubernetes' defaults), the computed
 * defaults (`imagePullPolicy`, `serviceAccount` mirror) and the checks Pods, Deployments and
 * ReplicaSets share.
 *
 * @module
 */

import { isIP } from "node:net";
import { z } from "zod";
import { isPlainObject } from "../object.ts";
import { invalidValue, notSupportedValue, requiredValue, type StatusCause } from "../status.ts";
import {
  causesFor,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  duplicateValue,
  forbidden,
  invalid,
  notFoundValue,
  portNameErrors,
  portNumberErrors,
  validateAnnotations,
  validateLabels,
} from "../validation.ts";
import {
  Condition,
  IntOrString,
  LabelSelector,
  LocalObjectReference,
  OpenObject,
  Quantity,
  ResourceList,
} from "./_common.ts";
import { ObjectMeta, StringMap, Time } from "./_meta.ts";
import {
  defaultPullPolicy,
  isValidSysctlName,
  SYSCTL_MAX_LENGTH,
  SYSCTL_NAME_REGEX,
  sysctlDotted,
  sysctlNamespace,
} from "./_pod_rules.ts";

export { defaultPullPolicy };

const Protocol = z.enum(["TCP", "UDP", "SCTP"]);

/** core/v1 ContainerPort */
export const ContainerPort = z.strictObject({
  name: z.string().optional(),
  hostPort: z.int32().optional(),
  containerPort: z.int32(),
  protocol: Protocol.default("TCP"),
  hostIP: z.string().optional(),
});

const KeySelector = z.strictObject({
  name: z.string().optional(),
  key: z.string(),
  optional: z.boolean().optional(),
});

const ObjectFieldSelector = z.strictObject({
  apiVersion: z.string().default("v1"),
  fieldPath: z.string(),
});

const ResourceFieldSelector = z.strictObject({
  containerName: z.string().optional(),
  resource: z.string(),
  divisor: Quantity.optional(),
});

/** core/v1 EnvVar */
export const EnvVar = z.strictObject({
  name: z.string(),
  value: z.string().optional(),
  valueFrom: z
    .strictObject({
      fieldRef: ObjectFieldSelector.optional(),
      resourceFieldRef: ResourceFieldSelector.optional(),
      configMapKeyRef: KeySelector.optional(),
      secretKeyRef: KeySelector.optional(),
      fileKeyRef: OpenObject.optional(),
    })
    .optional(),
});

const EnvFromRef = z.strictObject({
  name: z.string().optional(),
  optional: z.boolean().optional(),
});

/** core/v1 EnvFromSource */
export const EnvFromSource = z.strictObject({
  prefix: z.string().optional(),
  configMapRef: EnvFromRef.optional(),
  secretRef: EnvFromRef.optional(),
});

/** core/v1 ResourceRequirements */
export const ResourceRequirements = z.strictObject({
  limits: ResourceList.optional(),
  requests: ResourceList.optional(),
  claims: z
    .array(z.strictObject({ name: z.string(), request: z.string().optional() }))
    .optional(),
});

/** core/v1 VolumeMount */
export const VolumeMount = z.strictObject({
  name: z.string(),
  readOnly: z.boolean().optional(),
  recursiveReadOnly: z.enum(["Disabled", "IfPossible", "Enabled"]).optional(),
  mountPath: z.string(),
  subPath: z.string().optional(),
  mountPropagation: z.enum(["None", "HostToContainer", "Bidirectional"]).optional(),
  subPathExpr: z.string().optional(),
});

const HTTPGetAction = z.strictObject({
  path: z.string().default("/"),
  port: IntOrString,
  host: z.string().optional(),
  scheme: z.enum(["HTTP", "HTTPS"]).default("HTTP"),
  httpHeaders: z.array(z.strictObject({ name: z.string(), value: z.string() })).optional(),
});

const ExecAction = z.strictObject({ command: z.array(z.string()).optional() });
const TCPSocketAction = z.strictObject({ port: IntOrString, host: z.string().optional() });
const GRPCAction = z.strictObject({ port: z.int32(), service: z.string().optional() });

/** core/v1 Probe, with Kubernetes' timing defaults. */
export const Probe = z.strictObject({
  exec: ExecAction.optional(),
  httpGet: HTTPGetAction.optional(),
  tcpSocket: TCPSocketAction.optional(),
  grpc: GRPCAction.optional(),
  initialDelaySeconds: z.int32().min(0).optional(),
  timeoutSeconds: z.int32().min(1).default(1),
  periodSeconds: z.int32().min(1).default(10),
  successThreshold: z.int32().min(1).default(1),
  failureThreshold: z.int32().min(1).default(3),
  terminationGracePeriodSeconds: z.int().optional(),
});

const LifecycleHandler = z.strictObject({
  exec: ExecAction.optional(),
  httpGet: HTTPGetAction.optional(),
  tcpSocket: TCPSocketAction.optional(),
  sleep: z.strictObject({ seconds: z.int() }).optional(),
});

/** core/v1 Lifecycle */
export const Lifecycle = z.strictObject({
  postStart: LifecycleHandler.optional(),
  preStop: LifecycleHandler.optional(),
  stopSignal: z.string().optional(),
});

const SELinuxOptions = z.strictObject({
  user: z.string().optional(),
  role: z.string().optional(),
  type: z.string().optional(),
  level: z.string().optional(),
});

const WindowsSecurityContextOptions = z.strictObject({
  gmsaCredentialSpecName: z.string().optional(),
  gmsaCredentialSpec: z.string().optional(),
  runAsUserName: z.string().optional(),
  hostProcess: z.boolean().optional(),
});

const ProfileRef = z.strictObject({
  type: z.enum(["RuntimeDefault", "Unconfined", "Localhost"]),
  localhostProfile: z.string().optional(),
});

/** core/v1 SecurityContext (container level) */
export const SecurityContext = z.strictObject({
  capabilities: z
    .strictObject({
      add: z.array(z.string()).optional(),
      drop: z.array(z.string()).optional(),
    })
    .optional(),
  privileged: z.boolean().optional(),
  seLinuxOptions: SELinuxOptions.optional(),
  windowsOptions: WindowsSecurityContextOptions.optional(),
  runAsUser: z.int().optional(),
  runAsGroup: z.int().optional(),
  runAsNonRoot: z.boolean().optional(),
  readOnlyRootFilesystem: z.boolean().optional(),
  allowPrivilegeEscalation: z.boolean().optional(),
  procMount: z.enum(["Default", "Unmasked"]).optional(),
  seccompProfile: ProfileRef.optional(),
  appArmorProfile: ProfileRef.optional(),
});

/** core/v1 PodSecurityContext */
export const PodSecurityContext = z.strictObject({
  seLinuxOptions: SELinuxOptions.optional(),
  windowsOptions: WindowsSecurityContextOptions.optional(),
  runAsUser: z.int().optional(),
  runAsGroup: z.int().optional(),
  runAsNonRoot: z.boolean().optional(),
  supplementalGroups: z.array(z.int()).optional(),
  supplementalGroupsPolicy: z.enum(["Merge", "Strict"]).optional(),
  fsGroup: z.int().optional(),
  fsGroupChangePolicy: z.enum(["OnRootMismatch", "Always"]).optional(),
  sysctls: z.array(z.strictObject({ name: z.string(), value: z.string() })).optional(),
  seccompProfile: ProfileRef.optional(),
  appArmorProfile: ProfileRef.optional(),
  seLinuxChangePolicy: z.string().optional(),
});

const containerFields = {
  name: z.string(),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  workingDir: z.string().optional(),
  ports: z.array(ContainerPort).optional(),
  envFrom: z.array(EnvFromSource).optional(),
  env: z.array(EnvVar).optional(),
  resources: ResourceRequirements.default({}),
  resizePolicy: z
    .array(z.strictObject({ resourceName: z.string(), restartPolicy: z.string() }))
    .optional(),
  restartPolicy: z.enum(["Always"]).optional(),
  volumeMounts: z.array(VolumeMount).optional(),
  volumeDevices: z.array(z.strictObject({ name: z.string(), devicePath: z.string() })).optional(),
  livenessProbe: Probe.optional(),
  readinessProbe: Probe.optional(),
  startupProbe: Probe.optional(),
  lifecycle: Lifecycle.optional(),
  terminationMessagePath: z.string().default("/dev/termination-log"),
  terminationMessagePolicy: z.enum(["File", "FallbackToLogsOnError"]).default("File"),
  imagePullPolicy: z.enum(["Always", "Never", "IfNotPresent"]).optional(),
  securityContext: SecurityContext.optional(),
  stdin: z.boolean().optional(),
  stdinOnce: z.boolean().optional(),
  tty: z.boolean().optional(),
};

/** core/v1 Container, with Kubernetes' defaults. */
export const Container = z.strictObject(containerFields);

/** core/v1 EphemeralContainer (debug containers). */
export const EphemeralContainer = z.strictObject({
  ...containerFields,
  targetContainerName: z.string().optional(),
});

const KeyToPath = z.strictObject({
  key: z.string(),
  path: z.string(),
  mode: z.int32().optional(),
});

const DownwardAPIVolumeFile = z.strictObject({
  path: z.string(),
  fieldRef: ObjectFieldSelector.optional(),
  resourceFieldRef: ResourceFieldSelector.optional(),
  mode: z.int32().optional(),
});

const VolumeProjection = z.strictObject({
  secret: z
    .strictObject({
      name: z.string().optional(),
      items: z.array(KeyToPath).optional(),
      optional: z.boolean().optional(),
    })
    .optional(),
  configMap: z
    .strictObject({
      name: z.string().optional(),
      items: z.array(KeyToPath).optional(),
      optional: z.boolean().optional(),
    })
    .optional(),
  downwardAPI: z.strictObject({ items: z.array(DownwardAPIVolumeFile).optional() }).optional(),
  serviceAccountToken: z
    .strictObject({
      audience: z.string().optional(),
      expirationSeconds: z.int().default(3600),
      path: z.string(),
    })
    .optional(),
  clusterTrustBundle: OpenObject.optional(),
  podCertificate: OpenObject.optional(),
});

/** core/v1 HostPathVolumeSource (pods' volumes and PersistentVolumes). */
export const HostPathVolumeSource = z.strictObject({
  path: z.string(),
  type: z
    .enum([
      "",
      "DirectoryOrCreate",
      "Directory",
      "FileOrCreate",
      "File",
      "Socket",
      "CharDevice",
      "BlockDevice",
    ])
    .default(""),
});

/** The volume source members we type; `VOLUME_SOURCES` lists every recognised source. */
const volumeSources = {
  hostPath: HostPathVolumeSource.optional(),
  emptyDir: z
    .strictObject({
      medium: z.enum(["", "Memory", "HugePages"]).optional(),
      sizeLimit: Quantity.optional(),
    })
    .optional(),
  secret: z
    .strictObject({
      secretName: z.string().optional(),
      items: z.array(KeyToPath).optional(),
      defaultMode: z.int32().default(420),
      optional: z.boolean().optional(),
    })
    .optional(),
  configMap: z
    .strictObject({
      name: z.string().optional(),
      items: z.array(KeyToPath).optional(),
      defaultMode: z.int32().default(420),
      optional: z.boolean().optional(),
    })
    .optional(),
  persistentVolumeClaim: z
    .strictObject({ claimName: z.string(), readOnly: z.boolean().optional() })
    .optional(),
  projected: z
    .strictObject({
      sources: z.array(VolumeProjection).optional(),
      defaultMode: z.int32().default(420),
    })
    .optional(),
  downwardAPI: z
    .strictObject({
      items: z.array(DownwardAPIVolumeFile).optional(),
      defaultMode: z.int32().default(420),
    })
    .optional(),
  nfs: z
    .strictObject({ server: z.string(), path: z.string(), readOnly: z.boolean().optional() })
    .optional(),
  image: z
    .strictObject({
      reference: z.string().optional(),
      pullPolicy: z.enum(["Always", "Never", "IfNotPresent"]).optional(),
    })
    .optional(),
  ephemeral: OpenObject.optional(),
  csi: OpenObject.optional(),
  gcePersistentDisk: OpenObject.optional(),
  awsElasticBlockStore: OpenObject.optional(),
  gitRepo: OpenObject.optional(),
  iscsi: OpenObject.optional(),
  glusterfs: OpenObject.optional(),
  rbd: OpenObject.optional(),
  flexVolume: OpenObject.optional(),
  cinder: OpenObject.optional(),
  cephfs: OpenObject.optional(),
  flocker: OpenObject.optional(),
  fc: OpenObject.optional(),
  azureFile: OpenObject.optional(),
  azureDisk: OpenObject.optional(),
  vsphereVolume: OpenObject.optional(),
  quobyte: OpenObject.optional(),
  photonPersistentDisk: OpenObject.optional(),
  portworxVolume: OpenObject.optional(),
  scaleIO: OpenObject.optional(),
  storageos: OpenObject.optional(),
};

const VOLUME_SOURCES = Object.keys(volumeSources);

/** core/v1 Volume */
export const Volume = z.strictObject({ name: z.string(), ...volumeSources });

const NodeSelectorRequirement = z.strictObject({
  key: z.string(),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]),
  values: z.array(z.string()).optional(),
});

/** core/v1 NodeSelectorTerm (node affinity of pods and of PersistentVolumes) */
export const NodeSelectorTerm = z.strictObject({
  matchExpressions: z.array(NodeSelectorRequirement).optional(),
  matchFields: z.array(NodeSelectorRequirement).optional(),
});

const PodAffinityTerm = z.strictObject({
  labelSelector: LabelSelector.optional(),
  namespaceSelector: LabelSelector.optional(),
  namespaces: z.array(z.string()).optional(),
  topologyKey: z.string(),
  matchLabelKeys: z.array(z.string()).optional(),
  mismatchLabelKeys: z.array(z.string()).optional(),
});

const WeightedPodAffinityTerm = z.strictObject({
  weight: z.int32().min(1).max(100),
  podAffinityTerm: PodAffinityTerm,
});

const PodAffinity = z.strictObject({
  requiredDuringSchedulingIgnoredDuringExecution: z.array(PodAffinityTerm).optional(),
  preferredDuringSchedulingIgnoredDuringExecution: z.array(WeightedPodAffinityTerm).optional(),
});

/** core/v1 Affinity */
export const Affinity = z.strictObject({
  nodeAffinity: z
    .strictObject({
      requiredDuringSchedulingIgnoredDuringExecution: z
        .strictObject({ nodeSelectorTerms: z.array(NodeSelectorTerm) })
        .optional(),
      preferredDuringSchedulingIgnoredDuringExecution: z
        .array(z.strictObject({ weight: z.int32().min(1).max(100), preference: NodeSelectorTerm }))
        .optional(),
    })
    .optional(),
  podAffinity: PodAffinity.optional(),
  podAntiAffinity: PodAffinity.optional(),
});

/** core/v1 Toleration */
export const Toleration = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["", "NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.int().optional(),
});

/** core/v1 TopologySpreadConstraint */
export const TopologySpreadConstraint = z.strictObject({
  maxSkew: z.int32().min(1),
  topologyKey: z.string(),
  whenUnsatisfiable: z.enum(["DoNotSchedule", "ScheduleAnyway"]),
  labelSelector: LabelSelector.optional(),
  minDomains: z.int32().min(1).optional(),
  nodeAffinityPolicy: z.enum(["Honor", "Ignore"]).optional(),
  nodeTaintsPolicy: z.enum(["Honor", "Ignore"]).optional(),
  matchLabelKeys: z.array(z.string()).optional(),
});

/** core/v1 PodSpec, with Kubernetes' defaults. */
export const PodSpec = z.strictObject({
  volumes: z.array(Volume).optional(),
  initContainers: z.array(Container).optional(),
  containers: z.array(Container),
  ephemeralContainers: z.array(EphemeralContainer).optional(),
  restartPolicy: z.enum(["Always", "OnFailure", "Never"]).default("Always"),
  terminationGracePeriodSeconds: z.int().default(30),
  activeDeadlineSeconds: z.int().min(1).optional(),
  dnsPolicy: z
    .enum(["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"])
    .default("ClusterFirst"),
  nodeSelector: StringMap.optional(),
  serviceAccountName: z.string().optional(),
  serviceAccount: z.string().optional(),
  automountServiceAccountToken: z.boolean().optional(),
  nodeName: z.string().optional(),
  hostNetwork: z.boolean().optional(),
  hostPID: z.boolean().optional(),
  hostIPC: z.boolean().optional(),
  shareProcessNamespace: z.boolean().optional(),
  securityContext: PodSecurityContext.default({}),
  imagePullSecrets: z.array(LocalObjectReference).optional(),
  hostname: z.string().optional(),
  subdomain: z.string().optional(),
  affinity: Affinity.optional(),
  schedulerName: z.string().default("default-scheduler"),
  tolerations: z.array(Toleration).optional(),
  hostAliases: z
    .array(z.strictObject({ ip: z.string(), hostnames: z.array(z.string()).optional() }))
    .optional(),
  priorityClassName: z.string().optional(),
  priority: z.int32().optional(),
  dnsConfig: z
    .strictObject({
      nameservers: z.array(z.string()).optional(),
      searches: z.array(z.string()).optional(),
      options: z
        .array(z.strictObject({ name: z.string().optional(), value: z.string().optional() }))
        .optional(),
    })
    .optional(),
  readinessGates: z.array(z.strictObject({ conditionType: z.string() })).optional(),
  runtimeClassName: z.string().optional(),
  enableServiceLinks: z.boolean().default(true),
  preemptionPolicy: z.enum(["PreemptLowerThanOrEqual", "Never"]).optional(),
  overhead: ResourceList.optional(),
  topologySpreadConstraints: z.array(TopologySpreadConstraint).optional(),
  setHostnameAsFQDN: z.boolean().optional(),
  os: z.strictObject({ name: z.enum(["linux", "windows"]) }).optional(),
  hostUsers: z.boolean().optional(),
  schedulingGates: z.array(z.strictObject({ name: z.string() })).optional(),
  resourceClaims: z
    .array(
      z.strictObject({
        name: z.string(),
        resourceClaimName: z.string().optional(),
        resourceClaimTemplateName: z.string().optional(),
      }),
    )
    .optional(),
  resources: ResourceRequirements.optional(),
});

/** core/v1 PodTemplateSpec */
export const PodTemplateSpec = z.strictObject({
  metadata: ObjectMeta.optional(),
  spec: PodSpec.prefault({ containers: [] }),
});

const ContainerState = z.strictObject({
  waiting: z.strictObject({ reason: z.string().optional(), message: z.string().optional() })
    .optional(),
  running: z.strictObject({ startedAt: Time.optional() }).optional(),
  terminated: z
    .strictObject({
      exitCode: z.int32(),
      signal: z.int32().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      startedAt: Time.optional(),
      finishedAt: Time.optional(),
      containerID: z.string().optional(),
    })
    .optional(),
});

/** core/v1 ContainerStatus */
export const ContainerStatus = z.strictObject({
  name: z.string(),
  state: ContainerState.optional(),
  lastState: ContainerState.optional(),
  ready: z.boolean(),
  restartCount: z.int32(),
  image: z.string(),
  imageID: z.string(),
  containerID: z.string().optional(),
  started: z.boolean().optional(),
  allocatedResources: ResourceList.optional(),
  resources: ResourceRequirements.optional(),
  volumeMounts: z.array(OpenObject).optional(),
  user: OpenObject.optional(),
  allocatedResourcesStatus: z.array(OpenObject).optional(),
  stopSignal: z.string().optional(),
});

const PodIP = z.strictObject({ ip: z.string() });

/** core/v1 PodStatus */
export const PodStatus = z.strictObject({
  observedGeneration: z.int().optional(),
  phase: z.enum(["Pending", "Running", "Succeeded", "Failed", "Unknown"]).optional(),
  conditions: z.array(Condition).optional(),
  message: z.string().optional(),
  reason: z.string().optional(),
  nominatedNodeName: z.string().optional(),
  hostIP: z.string().optional(),
  hostIPs: z.array(PodIP).optional(),
  podIP: z.string().optional(),
  podIPs: z.array(PodIP).optional(),
  startTime: Time.optional(),
  initContainerStatuses: z.array(ContainerStatus).optional(),
  containerStatuses: z.array(ContainerStatus).optional(),
  ephemeralContainerStatuses: z.array(ContainerStatus).optional(),
  qosClass: z.enum(["Guaranteed", "Burstable", "BestEffort"]).optional(),
  resize: z.string().optional(),
  resourceClaimStatuses: z.array(OpenObject).optional(),
});

/** A Pod spec as the schema outputs it. */
export type PodSpecValue = z.output<typeof PodSpec>;
/** A Container as the schema outputs it. */
export type ContainerValue = z.output<typeof Container>;

/** Computed defaults of a pod spec (pods and templates). Mutates `spec`. */
export function normalizePodSpec(spec: PodSpecValue): void {
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    if (c.imagePullPolicy === undefined) c.imagePullPolicy = defaultPullPolicy(c.image ?? "");
  }
  for (const c of spec.ephemeralContainers ?? []) {
    if (c.imagePullPolicy === undefined) c.imagePullPolicy = defaultPullPolicy(c.image ?? "");
  }
  if (spec.serviceAccountName && !spec.serviceAccount) {
    spec.serviceAccount = spec.serviceAccountName;
  } else if (spec.serviceAccount && !spec.serviceAccountName) {
    spec.serviceAccountName = spec.serviceAccount;
  }
}

const ENV_NAME_MESSAGE =
  "a valid environment variable name must consist only of printable ASCII characters other than '='";

function validateProbe(probe: unknown, path: string, mustBeOne: boolean): StatusCause[] {
  if (!isPlainObject(probe)) return [];
  const causes = validateHandler(probe, path, ["exec", "httpGet", "tcpSocket", "grpc"]);
  if (mustBeOne && typeof probe.successThreshold === "number" && probe.successThreshold !== 1) {
    causes.push(invalidValue(`${path}.successThreshold`, probe.successThreshold, "must be 1"));
  }
  return causes;
}

function validateHandler(
  handler: Record<string, unknown>,
  path: string,
  kinds: string[],
): StatusCause[] {
  const present = kinds.filter((k) => handler[k] !== undefined);
  if (present.length === 0) return [requiredValue(path, "must specify a handler type")];
  if (present.length > 1) {
    return [forbidden(`${path}.${present[1]}`, `may not specify more than 1 handler type`)];
  }
  const causes: StatusCause[] = [];
  for (const k of ["httpGet", "tcpSocket"]) {
    const action = handler[k];
    if (isPlainObject(action)) causes.push(...validatePortRef(action.port, `${path}.${k}.port`));
  }
  const grpc = handler.grpc;
  if (isPlainObject(grpc) && typeof grpc.port === "number") {
    const port = grpc.port;
    causes.push(...portNumberErrors(port).map((m) => invalidValue(`${path}.grpc.port`, port, m)));
  }
  return causes;
}

/** Causes for a port given as number or IANA name (probe ports, Service targetPort). */
export function validatePortRef(port: unknown, path: string): StatusCause[] {
  if (typeof port === "number") {
    return portNumberErrors(port).map((m) => invalidValue(path, port, m));
  }
  if (typeof port === "string") return causesFor(path, port, portNameErrors(port));
  return [];
}

interface ContainerCheckState {
  names: Set<string>;
  portNames: Set<string>;
  volumes: Set<string>;
}

function validateContainer(
  c: ContainerValue,
  path: string,
  state: ContainerCheckState,
  forPod: boolean,
  isInit: boolean,
): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!c.name) causes.push(requiredValue(`${path}.name`));
  else {
    causes.push(...causesFor(`${path}.name`, c.name, dns1123LabelErrors(c.name)));
    if (state.names.has(c.name)) causes.push(duplicateValue(`${path}.name`, c.name));
    state.names.add(c.name);
  }
  if (!c.image) causes.push(requiredValue(`${path}.image`));
  else if (forPod && c.image.trim() !== c.image) {
    causes.push(invalid(`${path}.image`, c.image, "must not have leading or trailing whitespace"));
  }
  for (const [j, p] of (c.ports ?? []).entries()) {
    const pp = `${path}.ports[${j}]`;
    if (p.name !== undefined && p.name !== "") {
      causes.push(...causesFor(`${pp}.name`, p.name, portNameErrors(p.name)));
      if (state.portNames.has(p.name)) causes.push(duplicateValue(`${pp}.name`, p.name));
      state.portNames.add(p.name);
    }
    for (const m of portNumberErrors(p.containerPort)) {
      causes.push(invalidValue(`${pp}.containerPort`, p.containerPort, m));
    }
    if (p.hostPort !== undefined && p.hostPort !== 0) {
      for (const m of portNumberErrors(p.hostPort)) {
        causes.push(invalidValue(`${pp}.hostPort`, p.hostPort, m));
      }
    }
  }
  for (const [j, e] of (c.env ?? []).entries()) {
    const ep = `${path}.env[${j}]`;
    if (!e.name) causes.push(requiredValue(`${ep}.name`));
    else if (!/^[\x20-\x3c\x3e-\x7e]+$/.test(e.name)) {
      causes.push(invalid(`${ep}.name`, e.name, ENV_NAME_MESSAGE));
    }
    if (e.valueFrom) {
      const sources = Object.keys(e.valueFrom).filter((k) =>
        (e.valueFrom as Record<string, unknown>)[k] !== undefined
      );
      if (sources.length === 0) {
        causes.push(
          invalidValue(
            `${ep}.valueFrom`,
            "",
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
          ),
        );
      } else if (sources.length > 1) {
        causes.push(
          invalidValue(
            `${ep}.valueFrom`,
            "",
            "may not have more than one field specified at a time",
          ),
        );
      }
      if (e.value) {
        causes.push(
          invalidValue(`${ep}.valueFrom`, "", "may not be specified when `value` is not empty"),
        );
      }
    }
  }
  for (const [j, m] of (c.volumeMounts ?? []).entries()) {
    const mp = `${path}.volumeMounts[${j}]`;
    if (!m.name) causes.push(requiredValue(`${mp}.name`));
    else if (!state.volumes.has(m.name)) causes.push(notFoundValue(`${mp}.name`, m.name));
    if (!m.mountPath) causes.push(requiredValue(`${mp}.mountPath`));
  }
  const restartable = isInit && c.restartPolicy === "Always";
  if (!isInit && c.restartPolicy !== undefined) {
    causes.push(forbidden(`${path}.restartPolicy`, "may not be set for non-init containers"));
  }
  if (isInit && !restartable) {
    for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"] as const) {
      if (c[probe] !== undefined) {
        causes.push(
          forbidden(
            `${path}.${probe}`,
            "may not be set for init containers without restartPolicy=Always",
          ),
        );
      }
    }
  }
  causes.push(...validateSecurityContext(c.securityContext, `${path}.securityContext`));
  causes.push(...validateProbe(c.livenessProbe, `${path}.livenessProbe`, true));
  causes.push(...validateProbe(c.readinessProbe, `${path}.readinessProbe`, false));
  causes.push(...validateProbe(c.startupProbe, `${path}.startupProbe`, true));
  for (const hook of ["postStart", "preStop"] as const) {
    const h = c.lifecycle?.[hook];
    if (h) {
      causes.push(
        ...validateHandler(h as Record<string, unknown>, `${path}.lifecycle.${hook}`, [
          "exec",
          "httpGet",
          "tcpSocket",
          "sleep",
        ]),
      );
    }
  }
  return causes;
}

/**
 * Causes for a pod's or a container's securityContext: seccomp and AppArmor profiles name a
 * `localhostProfile` exactly when their type is Localhost, as a relative path inside the
 * node's profile directory; ids are not negative.
 */
function validateSecurityContext(
  context: {
    seccompProfile?: { type: string; localhostProfile?: string | undefined } | undefined;
    appArmorProfile?: { type: string; localhostProfile?: string | undefined } | undefined;
    runAsUser?: number | undefined;
    runAsGroup?: number | undefined;
  } | undefined,
  path: string,
): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const key of ["seccompProfile", "appArmorProfile"] as const) {
    const profile = context?.[key];
    if (!profile) continue;
    const lp = `${path}.${key}.localhostProfile`;
    const local = profile.localhostProfile;
    if (profile.type !== "Localhost") {
      if (local !== undefined) {
        causes.push(forbidden(lp, "can only be set when the profile type is Localhost"));
      }
    } else if (!local) {
      causes.push(requiredValue(lp, "must be set when the profile type is Localhost"));
    } else if (key === "seccompProfile") {
      if (local.startsWith("/") || local.split("/").includes("..")) {
        causes.push(invalidValue(lp, local, "must be a relative path without '..'"));
      }
    }
  }
  for (const key of ["runAsUser", "runAsGroup"] as const) {
    const id = context?.[key];
    if (id !== undefined && (id < 0 || id > 2147483647)) {
      causes.push(
        invalidValue(`${path}.${key}`, id, "must be between 0 and 2147483647, inclusive"),
      );
    }
  }
  return causes;
}

/**
 * Causes for what only a pod's securityContext holds (`validatePodSpecSecurityContext`):
 * sysctl names valid and unique, none in a namespace the pod shares with the host, and not
 * both `hostPID` and `shareProcessNamespace`.
 */
function validatePodSecurity(spec: PodSpecValue, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const sp = `${path}.securityContext`;
  const names = new Set<string>();
  for (const [i, { name }] of (spec.securityContext?.sysctls ?? []).entries()) {
    const np = `${sp}.sysctls[${i}].name`;
    if (!name) causes.push(requiredValue(np));
    else if (!isValidSysctlName(name)) {
      causes.push(
        invalidValue(
          np,
          name,
          `must have at most ${SYSCTL_MAX_LENGTH} characters and match regex ${SYSCTL_NAME_REGEX}`,
        ),
      );
    } else if (names.has(name)) causes.push(duplicateValue(np, name));
    names.add(name);
    const dotted = sysctlDotted(name);
    const namespace = sysctlNamespace(dotted);
    if (spec.hostNetwork === true && namespace === "net") {
      causes.push(invalidValue(np, dotted, "may not be specified when 'hostNetwork' is true"));
    } else if (spec.hostIPC === true && namespace === "ipc") {
      causes.push(invalidValue(np, dotted, "may not be specified when 'hostIPC' is true"));
    }
  }
  if (spec.hostPID === true && spec.shareProcessNamespace === true) {
    causes.push(
      invalidValue(
        `${sp}.shareProcessNamespace`,
        true,
        "ShareProcessNamespace and HostPID cannot both be enabled",
      ),
    );
  }
  return causes;
}

/**
 * Causes for a pod spec at `path` (`spec` or `spec.template.spec`): containers present and
 * named uniquely as DNS labels with an image, ports in range and uniquely named, env names,
 * volumes (one source, unique DNS-label names) and mounts that reference them, probes with one
 * handler, DNS settings.
 */
export function validatePodSpec(spec: PodSpecValue, path: string, forPod: boolean): StatusCause[] {
  const causes: StatusCause[] = [];
  const volumes = new Set<string>();
  for (const [i, v] of (spec.volumes ?? []).entries()) {
    const vp = `${path}.volumes[${i}]`;
    if (!v.name) causes.push(requiredValue(`${vp}.name`));
    else {
      causes.push(...causesFor(`${vp}.name`, v.name, dns1123LabelErrors(v.name)));
      if (volumes.has(v.name)) causes.push(duplicateValue(`${vp}.name`, v.name));
      volumes.add(v.name);
    }
    const hostPath = (v as { hostPath?: { path?: unknown } }).hostPath?.path;
    if (typeof hostPath === "string" && hostPath !== "") {
      if (!hostPath.startsWith("/")) {
        causes.push(invalidValue(`${vp}.hostPath.path`, hostPath, "must be an absolute path"));
      } else if (hostPath.split("/").includes("..")) {
        causes.push(invalidValue(`${vp}.hostPath.path`, hostPath, "must not contain '..'"));
      }
    }
    const sources = VOLUME_SOURCES.filter((k) => (v as Record<string, unknown>)[k] !== undefined);
    if (sources.length === 0) causes.push(requiredValue(vp, "must specify a volume type"));
    else if (sources.length > 1) {
      causes.push(forbidden(`${vp}.${sources[1]}`, "may not specify more than 1 volume type"));
    }
  }
  const state: ContainerCheckState = { names: new Set(), portNames: new Set(), volumes };
  for (const [i, c] of (spec.initContainers ?? []).entries()) {
    causes.push(...validateContainer(c, `${path}.initContainers[${i}]`, state, forPod, true));
  }
  if (spec.containers.length === 0) causes.push(requiredValue(`${path}.containers`));
  const mainPortNames = new Set<string>();
  for (const [i, c] of spec.containers.entries()) {
    const s = { ...state, portNames: mainPortNames };
    causes.push(...validateContainer(c, `${path}.containers[${i}]`, s, forPod, false));
  }
  causes.push(...validateSecurityContext(spec.securityContext, `${path}.securityContext`));
  causes.push(...validatePodSecurity(spec, path));
  causes.push(...validateLabels(spec.nodeSelector, `${path}.nodeSelector`));
  if (spec.hostname) {
    causes.push(...causesFor(`${path}.hostname`, spec.hostname, dns1123LabelErrors(spec.hostname)));
  }
  if (spec.subdomain) {
    causes.push(
      ...causesFor(`${path}.subdomain`, spec.subdomain, dns1123LabelErrors(spec.subdomain)),
    );
  }
  if (spec.serviceAccountName) {
    causes.push(
      ...causesFor(
        `${path}.serviceAccountName`,
        spec.serviceAccountName,
        dns1123SubdomainErrors(spec.serviceAccountName),
      ),
    );
  }
  for (const [i, alias] of (spec.hostAliases ?? []).entries()) {
    const ap = `${path}.hostAliases[${i}]`;
    if (isIP(alias.ip) === 0) {
      causes.push(
        invalidValue(
          `${ap}.ip`,
          alias.ip,
          "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ),
      );
    }
    for (const [j, hostname] of (alias.hostnames ?? []).entries()) {
      causes.push(
        ...causesFor(`${ap}.hostnames[${j}]`, hostname, dns1123SubdomainErrors(hostname)),
      );
    }
  }
  if (spec.dnsPolicy === "None" && spec.dnsConfig === undefined) {
    causes.push(
      requiredValue(`${path}.dnsConfig`, "must provide `dnsConfig` when `dnsPolicy` is None"),
    );
  }
  for (const [i, t] of (spec.tolerations ?? []).entries()) {
    if (t.operator === "Exists" && t.value) {
      causes.push(
        invalid(
          `${path}.tolerations[${i}].operator`,
          t.value,
          "value must be empty when `operator` is 'Exists'",
        ),
      );
    }
  }
  return causes;
}

/** Causes for a pod template's metadata (labels and annotations). */
export function validateTemplateMeta(meta: unknown, path: string): StatusCause[] {
  if (!isPlainObject(meta)) return [];
  return [
    ...validateLabels(meta.labels, `${path}.labels`),
    ...validateAnnotations(meta.annotations, `${path}.annotations`),
  ];
}

/** Restart policies a ReplicaSet's template may use. */
export function validateTemplateRestartPolicy(spec: PodSpecValue, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (spec.restartPolicy !== "Always") {
    causes.push(notSupportedValue(`${path}.restartPolicy`, spec.restartPolicy, ["Always"]));
  }
  if (spec.activeDeadlineSeconds !== undefined) {
    causes.push(
      invalidValue(
        `${path}.activeDeadlineSeconds`,
        spec.activeDeadlineSeconds,
        "activeDeadlineSeconds in ReplicaSet is not Supported",
      ),
    );
  }
  return causes;
}
