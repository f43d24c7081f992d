import assert from "node:assert/strict";
import { ApiError } from "../status.ts";
import { validateObject } from "../validation.ts";
import { base64Utf8, secrets } from "./secret.ts";

function create(body: unknown, old?: unknown) {
  return validateObject(secrets, body, {
    fieldValidation: "Strict",
    ...(old ? { old: old as never } : {}),
  }).object;
}

function causes(body: unknown, old?: unknown): [string, string][] {
  try {
    create(body, old);
  } catch (e) {
    assert.ok(e instanceof ApiError && e.code === 422, String(e));
    return (e.details?.causes ?? []).map((c) => [c.field, c.message]);
  }
  assert.fail("expected Invalid");
}

Deno.test("secrets normalize folds stringData into base64 data and defaults type", () => {
  const s = create({
    metadata: { name: "s" },
    data: { a: "YQ==" },
    stringData: { b: "héllo ✓", a: "override" },
  });
  assert.deepEqual(s.data, { a: base64Utf8("override"), b: "aMOpbGxvIOKckw==" });
  assert.equal("stringData" in s, false);
  assert.equal(s.type, "Opaque");
});

Deno.test("secrets validation rejects bad keys and bad base64 without echoing the value", () => {
  const got = causes({ metadata: { name: "s" }, data: { "bad key": "YQ==", good: "not base64!" } });
  assert.equal(got[0]?.[0], "data[bad key]");
  assert.match(got[0]?.[1] ?? "", /a valid config key must consist of alphanumeric characters/);
  assert.deepEqual(got[1], [
    "data[good]",
    'Invalid value: "<secret contents redacted>": illegal base64 data at input byte 3',
  ]);
});

Deno.test("secrets validation requires the keys of well-known types", () => {
  assert.deepEqual(
    causes({ metadata: { name: "t" }, type: "kubernetes.io/tls", data: { "tls.crt": "YQ==" } }),
    [["data[tls.key]", "Required value"]],
  );
  assert.deepEqual(causes({ metadata: { name: "d" }, type: "kubernetes.io/dockerconfigjson" }), [[
    "data[.dockerconfigjson]",
    "Required value",
  ]]);
});

Deno.test("secrets validation keeps immutable data and type unchanged on update", () => {
  const old = create({ metadata: { name: "s" }, data: { a: "YQ==" }, immutable: true });
  assert.deepEqual(causes({ metadata: { name: "s" }, data: { a: "Yg==" }, immutable: true }, old), [
    ["data", "Forbidden: field is immutable when `immutable` is set"],
  ]);
  assert.deepEqual(
    causes({ metadata: { name: "s" }, type: "Other", data: { a: "YQ==" }, immutable: true }, old),
    [["type", 'Invalid value: "Other": field is immutable']],
  );
});

Deno.test("secrets columns show type and key count", () => {
  const s = create({ metadata: { name: "s" }, stringData: { a: "1", b: "2" } });
  const now = new Date();
  assert.deepEqual(secrets.columns.map((c) => c.cell(s, now)).slice(0, 3), ["s", "Opaque", 2]);
});
