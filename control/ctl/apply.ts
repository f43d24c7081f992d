/**
 * `ctl apply -f`: kubectl's client-side apply. Each object is created when missing (with the
 * last-applied annotation) or patched with a three-way JSON merge patch when it exists.
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";
import { CtlError, errorMessage, isNotFound, prefixError } from "./_client.ts";
import type { CommandContext } from "./_context.ts";
import { goJson } from "./_format.ts";
import type { Manifest } from "./_manifests.ts";
import { lastApplied, threeWayMergePatch, withLastApplied } from "./_apply_patch.ts";
import { apiVersion, kindWord, type ResourceInfo, resourcePath } from "./_resources.ts";

/** Apply every manifest; prints `kind/name created|configured|unchanged`, returns the exit code. */
export async function applyManifests(ctx: CommandContext, manifests: Manifest[]): Promise<number> {
  if (manifests.length === 0) throw new CtlError("no objects passed to apply");
  const errors: unknown[] = [];
  for (const manifest of manifests) {
    try {
      ctx.out(`${await applyOne(ctx, manifest)}\n`);
    } catch (err) {
      errors.push(err);
    }
  }
  for (const err of errors) ctx.err(`${errorMessage(err)}\n`);
  return errors.length > 0 ? 1 : 0;
}

/**
 * The object of `manifest` with its resource type and namespace settled: the namespace comes
 * from the object, else `-n`, else the context. Throws kubectl's errors for an unknown kind or
 * an object in another namespace than an explicit `-n`.
 */
export function prepareObject(
  ctx: CommandContext,
  manifest: Manifest,
): { rt: ResourceInfo; obj: KubeObject; name: string; namespace?: string } {
  const obj = structuredClone(manifest.object);
  const name = obj.metadata.name ?? "";
  const rt = ctx.resources.findKind(obj.apiVersion, obj.kind);
  if (!rt) {
    throw new CtlError(
      `resource mapping not found for name: "${name}" namespace: "${
        obj.metadata.namespace ?? ""
      }" from "${manifest.source}": no matches for kind "${obj.kind}" in version "${obj.apiVersion}"\nensure CRDs are installed first`,
    );
  }
  if (!rt.namespaced) return { rt, obj, name };
  const own = obj.metadata.namespace;
  if (own && ctx.access.namespaceExplicit && own !== ctx.access.namespace) {
    throw new CtlError(
      `the namespace from the provided object "${own}" does not match the namespace "${ctx.access.namespace}". You must pass '--namespace=${own}' to perform this operation.`,
    );
  }
  const namespace = own || ctx.access.namespace;
  obj.metadata.namespace = namespace;
  return { rt, obj, name, namespace };
}

/** kubectl's `info.String()`: the resource, kind, name and namespace of an object. */
export function describeInfo(rt: ResourceInfo, name: string, namespace?: string): string {
  const gv = rt.group ? apiVersion(rt) : `/${rt.version}`;
  return `Resource: "${gv}, Resource=${rt.plural}", GroupVersionKind: "${gv}, Kind=${rt.kind}"\nName: "${name}", Namespace: "${
    namespace ?? ""
  }"`;
}

async function applyOne(ctx: CommandContext, manifest: Manifest): Promise<string> {
  const { rt, obj, name, namespace } = prepareObject(ctx, manifest);
  const info = describeInfo(rt, name, namespace);
  if (name === "") {
    throw new CtlError(
      `error when retrieving current configuration of:\n${info}\nfrom server for: "${manifest.source}": resource name may not be empty`,
    );
  }
  const modified = withLastApplied(obj);
  let live: Record<string, unknown>;
  try {
    live = await ctx.client.request("GET", resourcePath(rt, namespace, name));
  } catch (err) {
    if (!isNotFound(err)) {
      throw prefixError(
        err,
        `error when retrieving current configuration of:\n${info}\nfrom server for: "${manifest.source}": `,
      );
    }
    try {
      await ctx.client.request("POST", resourcePath(rt, namespace), { body: modified });
    } catch (createErr) {
      throw prefixError(createErr, `error when creating "${manifest.source}": `);
    }
    return `${kindWord(rt)}/${name} created`;
  }
  const patch = threeWayMergePatch(lastApplied(live), modified, live);
  if (Object.keys(patch).length === 0) return `${kindWord(rt)}/${name} unchanged`;
  try {
    await ctx.client.request("PATCH", resourcePath(rt, namespace, name), {
      body: patch,
      contentType: "application/merge-patch+json",
    });
  } catch (err) {
    throw prefixError(
      err,
      `error when applying patch:\n${
        goJson(patch)
      }\nto:\n${info}\nfor: "${manifest.source}": error when patching "${manifest.source}": `,
    );
  }
  return `${kindWord(rt)}/${name} configured`;
}
