/**
 * `ctl delete`: by manifest (`-f`), by type and names, or by type with `-l`/`--all`; prints
 * kubectl 1.32's `configmap "app" deleted`.
 *
 * @module
 */

import { isPlainObject } from "../../storage/object.ts";
import { errorMessage, isNotFound, prefixError } from "./_client.ts";
import type { CommandContext } from "./_context.ts";
import type { Manifest } from "./_manifests.ts";
import { prepareObject } from "./apply.ts";
import { kindWord, resolveOrThrow, type ResourceInfo, resourcePath } from "./_resources.ts";
import { UsageError } from "./_args.ts";

/** Options of `ctl delete`. */
export interface DeleteOptions {
  labelSelector?: string;
  all: boolean;
  ignoreNotFound: boolean;
}

const DELETE_OPTIONS = {
  kind: "DeleteOptions",
  apiVersion: "v1",
  propagationPolicy: "Background",
};

interface Target {
  rt: ResourceInfo;
  name: string;
  namespace?: string;
  /** the manifest file, for `error when deleting "x.yaml": …` */
  source?: string;
}

/** Delete the objects of `manifests`; returns the exit code. */
export async function deleteManifests(
  ctx: CommandContext,
  manifests: Manifest[],
  opts: DeleteOptions,
): Promise<number> {
  const errors: unknown[] = [];
  const targets: Target[] = [];
  for (const manifest of manifests) {
    try {
      const { rt, name, namespace } = prepareObject(ctx, manifest);
      targets.push({ rt, name, source: manifest.source, ...(namespace ? { namespace } : {}) });
    } catch (err) {
      errors.push(err);
    }
  }
  return await deleteTargets(ctx, targets, opts, errors);
}

/** Delete `TYPE NAME…`, `TYPE/NAME…`, or `TYPE -l SEL` / `TYPE --all`; returns the exit code. */
export async function deleteResources(
  ctx: CommandContext,
  args: string[],
  opts: DeleteOptions,
): Promise<number> {
  if (args.length === 0) {
    throw new UsageError("You must provide one or more resources by argument or filename.");
  }
  const targets: Target[] = [];
  const namespaceFor = (rt: ResourceInfo) => rt.namespaced ? ctx.access.namespace : undefined;
  const add = (rt: ResourceInfo, name: string) => {
    const namespace = namespaceFor(rt);
    targets.push({ rt, name, ...(namespace ? { namespace } : {}) });
  };
  if (args.some((a) => a.includes("/"))) {
    for (const arg of args) {
      const slash = arg.indexOf("/");
      if (slash <= 0) {
        throw new UsageError(
          `arguments in resource/name form must have a single resource and name`,
        );
      }
      add(resolveOrThrow(ctx.resources, arg.slice(0, slash)), arg.slice(slash + 1));
    }
    return await deleteTargets(ctx, targets, opts, []);
  }
  const [types, ...names] = args as [string, ...string[]];
  const rts = types.split(",").filter(Boolean).map((w) => resolveOrThrow(ctx.resources, w));
  const bySelector = opts.all || opts.labelSelector !== undefined;
  if (names.length > 0 && bySelector) {
    throw new UsageError("name cannot be provided when a selector is specified");
  }
  if (names.length === 0 && !bySelector) {
    throw new UsageError("resource(s) were provided, but no name was specified");
  }
  for (const rt of rts) {
    if (!bySelector) {
      for (const name of names) add(rt, name);
      continue;
    }
    const list = await ctx.client.request("GET", resourcePath(rt, namespaceFor(rt)), {
      query: { labelSelector: opts.labelSelector },
    });
    const items = Array.isArray(list.items) ? list.items.filter(isPlainObject) : [];
    for (const item of items) {
      const meta = isPlainObject(item.metadata) ? item.metadata : {};
      add(rt, String(meta.name ?? ""));
    }
  }
  if (bySelector && targets.length === 0) {
    ctx.out("No resources found\n");
    return 0;
  }
  return await deleteTargets(ctx, targets, opts, []);
}

async function deleteTargets(
  ctx: CommandContext,
  targets: Target[],
  opts: DeleteOptions,
  errors: unknown[],
): Promise<number> {
  for (const t of targets) {
    try {
      await ctx.client.request("DELETE", resourcePath(t.rt, t.namespace, t.name), {
        body: DELETE_OPTIONS,
      });
      ctx.out(`${kindWord(t.rt)} "${t.name}" deleted\n`);
    } catch (err) {
      if (opts.ignoreNotFound && isNotFound(err)) continue;
      errors.push(t.source ? prefixError(err, `error when deleting "${t.source}": `) : err);
    }
  }
  for (const err of errors) ctx.err(`${errorMessage(err)}\n`);
  return errors.length > 0 ? 1 : 0;
}
