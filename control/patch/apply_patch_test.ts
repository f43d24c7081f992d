import assert from "node:assert/strict";
import { applyPatch } from "./mod.ts";
import { assertApiError } from "../../storage/_testing.ts";

const DEPLOYMENT = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web" },
  spec: {
    replicas: 1,
    template: { spec: { containers: [{ name: "app", image: "app:1" }, { name: "log" }] } },
  },
};

Deno.test("applyPatch() dispatches application/json-patch+json to RFC 6902", () => {
  const result = applyPatch(
    "application/json-patch+json",
    DEPLOYMENT,
    [{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "app:2" }],
    "apps/v1",
    "Deployment",
  );
  assert.deepEqual(result.spec, {
    replicas: 1,
    template: { spec: { containers: [{ name: "app", image: "app:2" }, { name: "log" }] } },
  });
});

Deno.test("applyPatch() merge patch replaces lists; strategic merge patch merges them", () => {
  const patch = { spec: { template: { spec: { containers: [{ name: "app", image: "app:2" }] } } } };
  const merged = applyPatch(
    "application/merge-patch+json",
    DEPLOYMENT,
    patch,
    "apps/v1",
    "Deployment",
  );
  assert.deepEqual(merged.spec, {
    replicas: 1,
    template: { spec: { containers: [{ name: "app", image: "app:2" }] } },
  });
  const strategic = applyPatch(
    "application/strategic-merge-patch+json; charset=utf-8",
    DEPLOYMENT,
    patch,
    "apps/v1",
    "Deployment",
  );
  assert.deepEqual(strategic.spec, {
    replicas: 1,
    template: { spec: { containers: [{ name: "app", image: "app:2" }, { name: "log" }] } },
  });
});

Deno.test("applyPatch() rejects server-side apply with 415 naming the accepted types", () => {
  assertApiError(
    () => applyPatch("application/apply-patch+yaml", DEPLOYMENT, {}, "apps/v1", "Deployment"),
    415,
    "UnsupportedMediaType",
    /^server-side apply \(application\/apply-patch\+yaml\) is not supported yet; .* - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/strategic-merge-patch\+json$/,
  );
});

Deno.test("applyPatch() rejects other content types with kube-apiserver's 415 message", () => {
  for (const type of ["application/json", "text/plain", ""]) {
    assertApiError(
      () => applyPatch(type, DEPLOYMENT, {}, "apps/v1", "Deployment"),
      415,
      "UnsupportedMediaType",
      /^the body of the request was in an unknown format - accepted media types include: application\/json-patch\+json, application\/merge-patch\+json, application\/strategic-merge-patch\+json$/,
    );
  }
});

Deno.test("applyPatch() rejects a merge patch that is not an object with 400", () => {
  for (const body of [null, "x", 3, ["a"]]) {
    assertApiError(
      () => applyPatch("application/merge-patch+json", DEPLOYMENT, body, "apps/v1", "Deployment"),
      400,
      "BadRequest",
      /^Invalid JSON Patch$/,
    );
  }
});

Deno.test("applyPatch() rejects a JSON patch that leaves no object with 422", () => {
  assertApiError(
    () =>
      applyPatch(
        "application/json-patch+json",
        DEPLOYMENT,
        [{ op: "replace", path: "", value: [1] }],
        "apps/v1",
        "Deployment",
      ),
    422,
    "Invalid",
  );
});

Deno.test("applyPatch() does not mutate the stored object", () => {
  const copy = structuredClone(DEPLOYMENT);
  applyPatch(
    "application/strategic-merge-patch+json",
    DEPLOYMENT,
    { metadata: { labels: { a: "b" } }, spec: { replicas: null } },
    "apps/v1",
    "Deployment",
  );
  assert.deepEqual(DEPLOYMENT, copy);
});
