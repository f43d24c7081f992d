import assert from "node:assert/strict";
import {
  canonicalJson,
  computeTemplateHash,
  equalIgnoreHash,
  fnv32a,
  POD_TEMPLATE_HASH_LABEL,
  safeEncodeString,
  withoutHashLabel,
} from "./template_hash.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

function template(image = "nginx:1.27") {
  return {
    metadata: { labels: { app: "web", tier: "front" } },
    spec: {
      containers: [{ name: "web", image, ports: [{ containerPort: 80 }] }],
      restartPolicy: "Always",
    },
  };
}

Deno.test("fnv32a() matches the FNV-1a 32-bit test vectors", () => {
  assert.equal(fnv32a(bytes("")), 0x811c9dc5);
  assert.equal(fnv32a(bytes("a")), 0xe40c292c);
  assert.equal(fnv32a(bytes("foobar")), 0xbf9cf968);
  assert.equal(fnv32a(bytes("bar"), fnv32a(bytes("foo"))), 0xbf9cf968);
});

Deno.test("safeEncodeString() maps bytes onto Kubernetes' safe alphabet", () => {
  assert.equal(safeEncodeString("0123456789"), "456789bcdf");
  assert.equal(safeEncodeString(""), "");
});

Deno.test("canonicalJson() sorts keys and drops null, empty maps and empty lists", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [], c: "x", e: null, f: {} } }),
    '{"a":{"c":"x"},"b":1}',
  );
  assert.equal(canonicalJson([{ b: 2, a: 1 }]), '[{"a":1,"b":2}]');
  assert.equal(canonicalJson({}), "null");
});

Deno.test("computeTemplateHash() is deterministic and independent of key order", () => {
  const a = template();
  const b = {
    spec: {
      restartPolicy: "Always",
      containers: [{ ports: [{ containerPort: 80 }], image: "nginx:1.27", name: "web" }],
    },
    metadata: { labels: { tier: "front", app: "web" } },
  };
  assert.equal(computeTemplateHash(a), computeTemplateHash(b));
  assert.equal(computeTemplateHash(a), computeTemplateHash(structuredClone(a)));
});

Deno.test("computeTemplateHash() renders the sum with the safe alphabet", () => {
  for (const image of ["a", "b", "nginx:1", "nginx:2", "busybox"]) {
    const hash = computeTemplateHash(template(image));
    assert.match(hash, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    // The decimal rendering of a 32-bit sum: at most 10 digits, one character each.
    assert.equal(hash, safeEncodeString(String(fnv32a(bytes(canonicalJson(template(image)))))));
  }
});

Deno.test("computeTemplateHash() changes with the template and the collision count", () => {
  const base = computeTemplateHash(template());
  assert.notEqual(computeTemplateHash(template("nginx:1.28")), base);
  const zero = computeTemplateHash(template(), 0);
  const one = computeTemplateHash(template(), 1);
  assert.notEqual(zero, base, "a collision count of 0 still hashes differently from none");
  assert.notEqual(one, zero);
  assert.equal(computeTemplateHash(template(), 1), one);
});

Deno.test("withoutHashLabel() removes only the pod-template-hash label, without mutating", () => {
  const t = template();
  const labelled = {
    ...t,
    metadata: { labels: { ...t.metadata.labels, [POD_TEMPLATE_HASH_LABEL]: "abc" } },
  };
  assert.deepEqual(withoutHashLabel(labelled), t);
  assert.equal(labelled.metadata.labels[POD_TEMPLATE_HASH_LABEL], "abc");
  assert.equal(withoutHashLabel(t), t);
  assert.equal(withoutHashLabel(undefined), undefined);
});

Deno.test("equalIgnoreHash() ignores the hash label, key order and empty values", () => {
  const t = template();
  const rsTemplate = {
    spec: { ...t.spec, volumes: [] },
    metadata: { labels: { [POD_TEMPLATE_HASH_LABEL]: "5d4c8b9f7", tier: "front", app: "web" } },
  };
  assert.equal(equalIgnoreHash(rsTemplate, t), true);
  assert.equal(equalIgnoreHash(template("nginx:1.28"), t), false);
  const relabelled = { ...t, metadata: { labels: { app: "web", tier: "back" } } };
  assert.equal(equalIgnoreHash(relabelled, t), false);
});
