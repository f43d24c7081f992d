import assert from "node:assert/strict";
import { ANN_BETA_STORAGE_CLASS, HOSTNAME_LABEL } from "../../storage/persistent_volumes.ts";
import { claim, volume } from "./_testing.ts";
import {
  capacityBytes,
  checkVolumeSatisfiesClaim,
  explainNoMatch,
  findBestVolume,
  formatBytes,
  isVolumeBoundToClaim,
  requestedBytes,
  volumeMismatch,
  volumeNodeAffinityMatches,
} from "./matching.ts";

const EDGE_1 = { name: "edge-1", labels: { [HOSTNAME_LABEL]: "edge-1" } };
const EDGE_2 = { name: "edge-2", labels: { [HOSTNAME_LABEL]: "edge-2" } };

function names(volumes: ReturnType<typeof volume>[]) {
  return volumes.map((v) => v.metadata.name);
}

Deno.test("requestedBytes() and capacityBytes() read quantities, 0 when missing or malformed", () => {
  assert.equal(requestedBytes(claim("c", { size: "2Gi" })), 2n * 1024n ** 3n);
  assert.equal(capacityBytes(volume("v", { size: "500M" })), 500_000_000n);
  assert.equal(capacityBytes(volume("v", { size: "lots" })), 0n);
  const bare = claim("c");
  bare.spec = {};
  assert.equal(requestedBytes(bare), 0n);
});

Deno.test("formatBytes() uses the largest exact binary unit", () => {
  assert.equal(formatBytes(1073741824n), "1Gi");
  assert.equal(formatBytes(1536n * 1024n), "1536Ki");
  assert.equal(formatBytes(1500n), "1500");
  assert.equal(formatBytes(0n), "0");
});

Deno.test("volumeMismatch() checks class, access modes, volume mode, size and selector", () => {
  const c = claim("data", { storageClass: "manual", size: "1Gi" });
  assert.equal(volumeMismatch(c, volume("v", { storageClass: "manual" })), undefined);
  assert.equal(volumeMismatch(c, volume("v", { storageClass: "other" })), "storage class");
  assert.equal(volumeMismatch(c, volume("v")), "storage class", "a class-less volume");
  assert.equal(
    volumeMismatch(claim("data"), volume("v")),
    undefined,
    "a class-less claim takes a class-less volume",
  );
  assert.equal(
    volumeMismatch(
      claim("data", { storageClass: "manual", accessModes: ["ReadWriteOnce", "ReadOnlyMany"] }),
      volume("v", { storageClass: "manual" }),
    ),
    "access modes",
  );
  assert.equal(
    volumeMismatch(
      claim("data", { storageClass: "manual", accessModes: ["ReadOnlyMany"] }),
      volume("v", { storageClass: "manual", accessModes: ["ReadWriteOnce", "ReadOnlyMany"] }),
    ),
    undefined,
    "a volume may offer more modes than asked",
  );
  assert.equal(
    volumeMismatch(c, volume("v", { storageClass: "manual", volumeMode: "Block" })),
    "volume mode",
  );
  assert.equal(
    volumeMismatch(c, volume("v", { storageClass: "manual", size: "1023Mi" })),
    "too small",
  );
  const selective = claim("data", {
    storageClass: "manual",
    selector: { matchLabels: { tier: "fast" } },
  });
  assert.equal(
    volumeMismatch(selective, volume("v", { storageClass: "manual", labels: { tier: "fast" } })),
    undefined,
  );
  assert.equal(
    volumeMismatch(selective, volume("v", { storageClass: "manual", labels: { tier: "slow" } })),
    "selector",
  );
  const expression = claim("data", {
    storageClass: "manual",
    selector: { matchExpressions: [{ key: "tier", operator: "In", values: ["a", "b"] }] },
  });
  assert.equal(
    volumeMismatch(expression, volume("v", { storageClass: "manual", labels: { tier: "b" } })),
    undefined,
  );
  assert.equal(volumeMismatch(expression, volume("v", { storageClass: "manual" })), "selector");
});

Deno.test("volumeMismatch() takes the class from the beta annotation when the field is unset", () => {
  const c = claim("data", { annotations: { [ANN_BETA_STORAGE_CLASS]: "manual" } });
  assert.equal(volumeMismatch(c, volume("v", { storageClass: "manual" })), undefined);
  assert.equal(volumeMismatch(c, volume("v")), "storage class");
});

Deno.test("volumeMismatch() refuses volumes that are taken, not Available or being deleted", () => {
  const c = claim("data");
  assert.equal(
    volumeMismatch(c, volume("v", { claimRef: { namespace: "default", name: "other" } })),
    "bound to another claim",
  );
  assert.equal(volumeMismatch(c, volume("v", { phase: "Released" })), "not available");
  assert.equal(volumeMismatch(c, volume("v", { phase: "Pending" })), "not available");
  assert.equal(volumeMismatch(c, volume("v", { deleting: true })), "being deleted");
  assert.equal(
    volumeMismatch(c, volume("v", { claimRef: { namespace: "default", name: "data" } })),
    undefined,
    "reserved for this claim",
  );
});

Deno.test("isVolumeBoundToClaim() compares namespace, name and, when set, uid", () => {
  const c = claim("data", { uid: "u1" });
  const ref = (r: { namespace: string; name: string; uid?: string }) =>
    volume("v", { claimRef: r });
  assert.ok(isVolumeBoundToClaim(ref({ namespace: "default", name: "data" }), c));
  assert.ok(isVolumeBoundToClaim(ref({ namespace: "default", name: "data", uid: "u1" }), c));
  assert.ok(!isVolumeBoundToClaim(ref({ namespace: "default", name: "data", uid: "u0" }), c));
  assert.ok(!isVolumeBoundToClaim(ref({ namespace: "other", name: "data" }), c));
  assert.ok(!isVolumeBoundToClaim(volume("v"), c));
});

Deno.test("volumeNodeAffinityMatches() holds for the named node, and everywhere without affinity", () => {
  assert.ok(volumeNodeAffinityMatches(volume("v", { node: "edge-1" }), EDGE_1));
  assert.ok(!volumeNodeAffinityMatches(volume("v", { node: "edge-1" }), EDGE_2));
  assert.ok(volumeNodeAffinityMatches(volume("v"), EDGE_2));
});

Deno.test("findBestVolume() picks the smallest fitting volume, ties by name", () => {
  const c = claim("data", { storageClass: "manual", size: "1Gi" });
  const volumes = [
    volume("big", { storageClass: "manual", size: "10Gi" }),
    volume("small-b", { storageClass: "manual", size: "2Gi" }),
    volume("small-a", { storageClass: "manual", size: "2Gi" }),
    volume("tiny", { storageClass: "manual", size: "512Mi" }),
    volume("other-class", { storageClass: "fast", size: "1Gi" }),
  ];
  assert.equal(findBestVolume(c, volumes)?.metadata.name, "small-a");
  assert.equal(findBestVolume(c, volumes.reverse())?.metadata.name, "small-a");
  assert.equal(
    findBestVolume(claim("data", { storageClass: "manual", size: "20Gi" }), volumes),
    undefined,
  );
  assert.equal(findBestVolume(c, []), undefined);
});

Deno.test("findBestVolume() prefers a volume pre-bound to the claim over a smaller free one", () => {
  const c = claim("data", { storageClass: "manual", uid: "u1" });
  const volumes = [
    volume("free", { storageClass: "manual", size: "1Gi" }),
    volume("reserved", {
      storageClass: "manual",
      size: "5Gi",
      claimRef: { namespace: "default", name: "data", uid: "u1" },
    }),
    volume("taken", {
      storageClass: "manual",
      size: "1Gi",
      claimRef: { namespace: "default", name: "other", uid: "u2" },
    }),
  ];
  assert.equal(findBestVolume(c, volumes)?.metadata.name, "reserved");
  // reserved for an earlier claim of the same name: not this one
  const again = claim("data", { storageClass: "manual", uid: "u9" });
  assert.equal(findBestVolume(again, volumes)?.metadata.name, "free");
});

Deno.test("findBestVolume() skips a pre-bound volume that is too small or of another mode", () => {
  const c = claim("data", { size: "2Gi", uid: "u1" });
  const ref = { namespace: "default", name: "data", uid: "u1" };
  assert.equal(findBestVolume(c, [volume("small", { size: "1Gi", claimRef: ref })]), undefined);
  assert.equal(
    findBestVolume(c, [volume("block", { size: "2Gi", volumeMode: "Block", claimRef: ref })]),
    undefined,
  );
  assert.equal(
    findBestVolume(c, [volume("ok", { size: "2Gi", claimRef: ref, phase: "Pending" })])
      ?.metadata.name,
    "ok",
    "a pre-bound volume need not be Available yet",
  );
});

Deno.test("findBestVolume() with a node only takes volumes that node reaches", () => {
  const c = claim("data", { storageClass: "local", uid: "u1" });
  const volumes = [
    volume("on-1", { storageClass: "local", node: "edge-1", size: "1Gi" }),
    volume("on-2", { storageClass: "local", node: "edge-2", size: "2Gi" }),
    volume("anywhere", { storageClass: "local", size: "3Gi" }),
  ];
  assert.equal(findBestVolume(c, volumes, { node: EDGE_1 })?.metadata.name, "on-1");
  assert.equal(findBestVolume(c, volumes, { node: EDGE_2 })?.metadata.name, "on-2");
  assert.deepEqual(
    names(volumes.filter((v) => volumeMismatch(c, v, EDGE_2) === "node affinity")),
    ["on-1"],
  );
  const prebound = volume("mine", {
    storageClass: "local",
    node: "edge-1",
    claimRef: { namespace: "default", name: "data", uid: "u1" },
  });
  assert.equal(
    findBestVolume(c, [...volumes, prebound], { node: EDGE_2 }),
    undefined,
    "a volume pre-bound on another node: no match on this one",
  );
});

Deno.test("findBestVolume() with delayBinding and no node takes only a pre-bound volume", () => {
  const c = claim("data", { storageClass: "local", uid: "u1" });
  const free = volume("free", { storageClass: "local" });
  assert.equal(findBestVolume(c, [free], { delayBinding: true }), undefined);
  assert.equal(
    findBestVolume(c, [free], { delayBinding: true, node: EDGE_1 })?.metadata.name,
    "free",
  );
  const mine = volume("mine", {
    storageClass: "local",
    claimRef: { namespace: "default", name: "data", uid: "u1" },
  });
  assert.equal(findBestVolume(c, [free, mine], { delayBinding: true })?.metadata.name, "mine");
});

Deno.test("checkVolumeSatisfiesClaim() checks a pre-bound pair as Kubernetes does", () => {
  const c = claim("data", { storageClass: "manual", size: "2Gi" });
  assert.equal(
    checkVolumeSatisfiesClaim(c, volume("v", { storageClass: "manual", size: "2Gi" })),
    undefined,
  );
  assert.equal(
    checkVolumeSatisfiesClaim(c, volume("v", { storageClass: "manual", size: "1Gi" })),
    "too small",
  );
  assert.equal(checkVolumeSatisfiesClaim(c, volume("v", { size: "2Gi" })), "storage class");
  assert.equal(
    checkVolumeSatisfiesClaim(
      c,
      volume("v", { storageClass: "manual", size: "2Gi", volumeMode: "Block" }),
    ),
    "volume mode",
  );
  assert.equal(
    checkVolumeSatisfiesClaim(
      c,
      volume("v", { storageClass: "manual", size: "2Gi", accessModes: ["ReadOnlyMany"] }),
    ),
    "access modes",
  );
  assert.equal(
    checkVolumeSatisfiesClaim(
      c,
      volume("v", { storageClass: "manual", size: "2Gi", deleting: true }),
    ),
    "being deleted",
  );
  assert.equal(
    checkVolumeSatisfiesClaim(
      c,
      volume("v", { storageClass: "manual", size: "2Gi", phase: "Released" }),
    ),
    undefined,
    "the phase does not matter for a pre-bound pair",
  );
});

Deno.test("explainNoMatch() says why no volume fits: the claim larger than every volume", () => {
  const c = claim("data", { storageClass: "manual", size: "5Gi" });
  const volumes = [
    volume("a", { storageClass: "manual", size: "1Gi" }),
    volume("b", { storageClass: "manual", size: "2Gi" }),
    volume("c", { storageClass: "other", size: "10Gi" }),
  ];
  assert.equal(
    explainNoMatch(c, volumes),
    'no persistent volumes of storage class "manual" available for this claim: ' +
      "of 2 volume(s) of this class, 2 too small (largest 2Gi, 5Gi requested)",
  );
});

Deno.test("explainNoMatch() counts each reason, and speaks of class-less claims", () => {
  const c = claim("data", { size: "1Gi" });
  assert.equal(
    explainNoMatch(c, []),
    "no persistent volumes available for this claim and no storage class is set: " +
      "no volume has this class",
  );
  const volumes = [
    volume("a", { size: "512Mi" }),
    volume("b", { claimRef: { namespace: "default", name: "other" } }),
    volume("c", { phase: "Released" }),
    volume("d", { node: "edge-1" }),
  ];
  assert.equal(
    explainNoMatch(c, volumes, { node: EDGE_2 }),
    "no persistent volumes available for this claim and no storage class is set: " +
      'of 4 volume(s) of this class, 1 bound to another claim, 1 node affinity of node "edge-2", ' +
      "1 not available, 1 too small (largest 512Mi, 1Gi requested)",
  );
});
