/**
 * The API server: Kubernetes' REST API for the kinds we serve, on Hono.
 *
 * Tested in-process with `app.request()` over an in-memory store; served by `control/server.ts`.
 *
 * @example
 * ```ts
 * const store = await openKvStore(":memory:");
 * const app = createApiApp({ store, tokens: ["secret"] });
 * const res = await app.request("/api/v1/namespaces/default/configmaps", {
 *   headers: { authorization: "Bearer secret" },
 * });
 * ```
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { cloneJson, isPlainObject, type KubeObject } from "../../storage/object.ts";
import { RESOURCE_TYPES } from "../../storage/registry.ts";
import { apiVersionOf, type ResourceType, storeKey, storePrefix } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import {
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  legacyApiVersions,
  negotiateDiscovery,
  versionInfo,
} from "../discovery.ts";
import { applyPatch } from "../patch/mod.ts";
import { openApiV3GroupVersion, openApiV3Root } from "../openapi.ts";
import { negotiateTable, parseIncludeObject, toTable } from "../table.ts";
import { bearerAuth } from "./auth.ts";
import { bindingTarget, bindPod } from "./binding.ts";
import { agentLogUrl, logContainer, proxyLogs } from "./logs.ts";
import { type DeleteOptions, Objects, type WriteOptions } from "./objects.ts";
import {
  boolParam,
  fieldValidationOf,
  intParam,
  isDryRun,
  parseJsonBody,
  parseResourcePath,
  parseResourceVersion,
  parseYamlBody,
  readBodyBytes,
  readBodyText,
  type ResourcePath,
} from "./_request.ts";
import { compileSelectors } from "./_selectors.ts";
import { decodeProtobufObject, PROTOBUF_MEDIA_TYPE } from "./protobuf.ts";
import { decodeContinue, encodeContinue } from "./_continue.ts";
import { fromScale, toScale } from "./_scale.ts";
import { watchStream } from "./watch.ts";

/** Options of {@linkcode createApiApp}. */
export interface ApiAppOptions {
  store: Store;
  /** bearer tokens with full access (the admin token) */
  tokens: readonly string[];
  /** kinds served; defaults to every registered kind */
  types?: readonly ResourceType[];
  /** largest accepted request body in bytes (default 3 MiB, as kube-apiserver) */
  maxBodyBytes?: number;
  /** the clock (tests inject one) */
  now?: () => Date;
  /** interval of watch bookmarks (default 60 s) */
  bookmarkEveryMs?: number;
  /** the longest a watch stays open when the client gives no timeoutSeconds (default 30 min) */
  maxWatchMs?: number;
  /** address advertised in /api (serverAddressByClientCIDRs) */
  serverAddress?: string;
  /** bearer token presented to node agents (log streams); defaults to the first token */
  agentToken?: string;
}

/** The default request body limit: 3 MiB, like kube-apiserver. */
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

const JSON_TYPE = "application/json";

/** Build the API server application. */
export function createApiApp(options: ApiAppOptions): Hono {
  const types = options.types ?? RESOURCE_TYPES;
  const now = options.now ?? (() => new Date());
  const objects = new Objects(options.store, now);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const byPath = new Map<string, ResourceType>();
  for (const rt of types) byPath.set(`${rt.group}/${rt.version}/${rt.plural}`, rt);
  const lookup = (g: string, v: string, p: string) => byPath.get(`${g}/${v}/${p}`);
  const servedGroupVersions = new Set(types.map((rt) => `${rt.group}/${rt.version}`));

  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.toStatus(), err.code as 400);
    console.error(`internal error on ${c.req.method} ${c.req.path}:`, err);
    const status = new ApiError("InternalError", `Internal error occurred: ${String(err)}`);
    return c.json(status.toStatus(), 500);
  });
  app.notFound((c) => {
    const e = new ApiError("NotFound", "the server could not find the requested resource");
    return c.json(e.toStatus(), 404);
  });

  for (const path of ["/healthz", "/livez", "/readyz"]) app.get(path, (c) => c.text("ok"));
  app.use("*", bearerAuth(options.tokens));

  app.get("/version", (c) => c.json(versionInfo()));

  const discovery = (c: Context, which: "api" | "apis", legacy: () => unknown) => {
    const n = negotiateDiscovery(c.req.header("accept"));
    const body = n.aggregated ? aggregatedDiscovery(types, which) : legacy();
    return c.body(JSON.stringify(body), 200, { "content-type": n.contentType, vary: "Accept" });
  };
  app.get(
    "/api",
    (c) => discovery(c, "api", () => legacyApiVersions(options.serverAddress ?? "127.0.0.1:6443")),
  );
  app.get("/apis", (c) => discovery(c, "apis", () => apiGroupList(types)));
  app.get("/openapi/v3", (c) => c.json(openApiV3Root(types)));
  app.get("/openapi/v3/api/:version", (c) => {
    const v = c.req.param("version");
    if (!servedGroupVersions.has(`/${v}`)) return c.notFound();
    const doc = openApiV3GroupVersion(types, "", v);
    return doc ? c.json(doc) : c.notFound();
  });
  app.get("/openapi/v3/apis/:group/:version", (c) => {
    const g = c.req.param("group");
    const v = c.req.param("version");
    if (!servedGroupVersions.has(`${g}/${v}`)) return c.notFound();
    const doc = openApiV3GroupVersion(types, g, v);
    return doc ? c.json(doc) : c.notFound();
  });

  const handle = async (c: Context, group: string, version: string, rest: string) => {
    if (!servedGroupVersions.has(`${group}/${version}`)) return c.notFound();
    const segments = rest.split("/").filter((s) => s !== "").map(decodeURIComponent);
    if (segments.length === 0) {
      if (c.req.method !== "GET") throw ApiError.methodNotAllowed();
      const list = apiResourceList(types, group, version);
      return list ? c.json(list) : c.notFound();
    }
    const path = parseResourcePath(lookup, group, version, segments);
    if (!path) return c.notFound();
    return await serveResource(c, path);
  };
  app.all(
    "/api/:version{v[0-9a-z]+}/*",
    (c) =>
      handle(
        c,
        "",
        c.req.param("version"),
        c.req.path.slice(`/api/${c.req.param("version")}`.length),
      ),
  );
  app.get("/api/:version", (c) => handle(c, "", c.req.param("version"), ""));
  app.get("/apis/:group", (c) => {
    const body = apiGroup(types, c.req.param("group"));
    return body ? c.json(body) : c.notFound();
  });
  app.all("/apis/:group/:version/*", (c) => {
    const { group, version } = c.req.param();
    return handle(c, group, version, c.req.path.slice(`/apis/${group}/${version}`.length));
  });
  app.get("/apis/:group/:version", (c) => {
    const { group, version } = c.req.param();
    return handle(c, group, version, "");
  });

  /** Send an object or list, as a Table when the client asked for one. */
  const respond = (
    c: Context,
    rt: ResourceType,
    body: KubeObject | KubeObject[],
    status = 200,
    list?: { resourceVersion: string; continue?: string; remainingItemCount?: number },
    warnings: string[] = [],
  ) => {
    for (const w of warnings) c.header("Warning", `299 - ${JSON.stringify(w)}`, { append: true });
    const url = new URL(c.req.url);
    const table = negotiateTable(c.req.header("accept"));
    if (table.table) {
      const items = Array.isArray(body) ? body : [body];
      const includeObject = parseIncludeObject(url.searchParams.get("includeObject") ?? undefined);
      const t = toTable(rt, items, {
        now: now(),
        includeObject,
        resourceVersion: list?.resourceVersion ??
          (Array.isArray(body) ? "" : body.metadata.resourceVersion ?? ""),
        ...(list?.continue ? { continue: list.continue } : {}),
        ...(list?.remainingItemCount !== undefined
          ? { remainingItemCount: list.remainingItemCount }
          : {}),
      });
      return c.body(JSON.stringify(t), status as 200, { "content-type": table.contentType });
    }
    if (Array.isArray(body)) {
      const metadata: Record<string, unknown> = { resourceVersion: list?.resourceVersion ?? "" };
      if (list?.continue) metadata.continue = list.continue;
      if (list?.remainingItemCount !== undefined) {
        metadata.remainingItemCount = list.remainingItemCount;
      }
      return c.body(
        JSON.stringify({
          kind: `${rt.kind}List`,
          apiVersion: apiVersionOf(rt),
          metadata,
          items: body,
        }),
        status as 200,
        { "content-type": JSON_TYPE },
      );
    }
    return c.body(JSON.stringify(body), status as 200, { "content-type": JSON_TYPE });
  };

  const writeOptions = (url: URL): WriteOptions => ({
    fieldValidation: fieldValidationOf(url),
    dryRun: isDryRun(url),
  });

  const readJson = async (c: Context) => {
    const type = (c.req.header("content-type") ?? "application/json").split(";")[0]!.trim();
    if (type === PROTOBUF_MEDIA_TYPE) {
      return decodeProtobufObject(await readBodyBytes(c.req.raw, maxBody));
    }
    if (type === "application/yaml") {
      return parseYamlBody(await readBodyText(c.req.raw, maxBody));
    }
    if (type !== "application/json" && type !== "" && type !== "*/*") {
      throw new ApiError(
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
      );
    }
    return parseJsonBody(await readBodyText(c.req.raw, maxBody));
  };

  async function serveResource(c: Context, path: ResourcePath): Promise<Response> {
    const { rt, namespace, name, subresource } = path;
    const url = new URL(c.req.url);
    const method = c.req.method;
    if (subresource !== undefined && !rt.subresources.includes(subresource)) {
      if (!(rt.kind === "Namespace" && subresource === "finalize")) return c.notFound();
    }
    if (name === undefined) {
      if (method === "GET") {
        return boolParam(url, "watch") ? await watch(c, path, url) : await list(c, path, url);
      }
      if (method === "POST") {
        const body = await readJson(c);
        const res = await objects.create(rt, namespace, body, writeOptions(url));
        return respond(c, rt, res.object, 201, undefined, res.warnings);
      }
      if (method === "DELETE") return await deleteCollection(c, path, url);
      throw ApiError.methodNotAllowed();
    }
    if (subresource === "scale") return await scale(c, path, url);
    if (subresource === "log") {
      if (method !== "GET") throw ApiError.methodNotAllowed();
      const pod = await objects.get(rt, namespace, name);
      const container = logContainer(pod, url.searchParams.get("container"));
      const nodeName = isPlainObject(pod.spec) ? pod.spec.nodeName : undefined;
      if (typeof nodeName !== "string" || nodeName === "") {
        throw ApiError.badRequest(`pod ${name} does not have a host assigned`);
      }
      const nodes = lookup("", "v1", "nodes");
      const node = nodes ? await options.store.get(storeKey(nodes, undefined, nodeName)) : null;
      if (!node) throw ApiError.notFound({ group: "", resource: "nodes" }, nodeName);
      return await proxyLogs(
        agentLogUrl(node, pod, container, url),
        options.agentToken ?? options.tokens[0] ?? "",
        c.req.raw.signal,
      );
    }
    if (subresource === "binding") {
      if (method !== "POST") throw ApiError.methodNotAllowed();
      const node = bindingTarget(await readJson(c), name);
      await bindPod(objects, rt, namespace!, name, node);
      return c.json({
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Success",
        code: 201,
      }, 201);
    }
    const sub = subresource === "status" || subresource === "finalize" ? "status" : undefined;
    switch (method) {
      case "GET":
        return respond(c, rt, await objects.get(rt, namespace, name));
      case "PUT": {
        const body = await readJson(c);
        if (subresource === "finalize") {
          return respond(c, rt, await finalizeNamespace(rt, name, body, url));
        }
        const res = await objects.update(rt, namespace, name, body, {
          ...writeOptions(url),
          ...(sub ? { subresource: sub } : {}),
        });
        return respond(c, rt, res.object, 200, undefined, res.warnings);
      }
      case "PATCH": {
        const contentType = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
        const text = await readBodyText(c.req.raw, maxBody);
        const body = contentType === "application/apply-patch+yaml" ? text : parseJsonBody(text);
        const res = await objects.patch(rt, namespace, name, contentType, body, {
          ...writeOptions(url),
          ...(sub ? { subresource: sub } : {}),
        });
        return respond(c, rt, res.object, 200, undefined, res.warnings);
      }
      case "DELETE": {
        if (subresource) throw ApiError.methodNotAllowed();
        const res = await objects.delete(rt, namespace, name, await deleteOptions(c, url));
        if (!res.deleted || rt.kind === "Pod") {
          return respond(c, rt, res.object, res.deleted ? 200 : 202);
        }
        return c.json({
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: {
            name,
            group: rt.group,
            kind: rt.plural,
            uid: res.object.metadata.uid,
          },
        });
      }
      default:
        throw ApiError.methodNotAllowed();
    }
  }

  async function list(c: Context, path: ResourcePath, url: URL): Promise<Response> {
    const { rt, namespace } = path;
    const matches = compileSelectors(rt, url);
    const limit = intParam(url, "limit");
    const token = url.searchParams.get("continue");
    let startAfter: string | undefined;
    let listRevision: number | undefined;
    if (token) {
      const cont = decodeContinue(token);
      if (cont.revision < options.store.oldestWatchableRevision() - 1) {
        throw new ApiError(
          "Expired",
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        );
      }
      startAfter = cont.startAfter;
      listRevision = cont.revision;
    }
    const res = await options.store.list(storePrefix(rt, namespace), {
      ...(limit ? { limit } : {}),
      ...(startAfter !== undefined ? { startAfter } : {}),
      ...(matches ? { filter: matches } : {}),
    });
    const revision = listRevision ?? res.revision;
    const meta: { resourceVersion: string; continue?: string; remainingItemCount?: number } = {
      resourceVersion: String(revision),
    };
    if (res.next !== undefined) {
      meta.continue = encodeContinue({ revision, startAfter: res.next });
      if (res.remaining !== undefined) meta.remainingItemCount = res.remaining;
    }
    return respond(c, rt, res.items, 200, meta);
  }

  async function watch(c: Context, path: ResourcePath, url: URL): Promise<Response> {
    const { rt, namespace } = path;
    const matches = compileSelectors(rt, url);
    const rvParam = url.searchParams.get("resourceVersion");
    const rv = parseResourceVersion(rvParam);
    const sendInitial = url.searchParams.get("sendInitialEvents");
    const timeoutSeconds = intParam(url, "timeoutSeconds");
    const prefix = storePrefix(rt, namespace);
    const table = negotiateTable(c.req.header("accept"));
    // "" and "0" mean "start at the current state": synthetic ADDED events first.
    const wantsState = sendInitial === "true" || rv === undefined || rv === 0;
    let initial: KubeObject[] = [];
    let from = rv ?? 0;
    const matchingKeys = new Set<string>();
    const listed = await options.store.list(prefix, matches ? { filter: matches } : {});
    if (wantsState) {
      initial = listed.items;
      from = listed.revision;
    }
    for (const o of listed.items) {
      matchingKeys.add(storeKey(rt, o.metadata.namespace, o.metadata.name!));
    }
    const includeObject = parseIncludeObject(url.searchParams.get("includeObject") ?? undefined);
    const stream = watchStream({
      store: options.store,
      prefix,
      fromRevision: from,
      initial,
      initialEventsEnd: sendInitial === "true" && boolParam(url, "allowWatchBookmarks"),
      ...(matches ? { selector: { matches, keys: matchingKeys, revision: listed.revision } } : {}),
      allowBookmarks: boolParam(url, "allowWatchBookmarks"),
      bookmarkEveryMs: options.bookmarkEveryMs ?? 60_000,
      timeoutMs: timeoutSeconds !== undefined
        ? timeoutSeconds * 1000
        : options.maxWatchMs ?? 30 * 60_000,
      signal: c.req.raw.signal,
      apiVersion: apiVersionOf(rt),
      kind: rt.kind,
      render: (obj, first) => {
        if (!table.table) return obj;
        const t = toTable(rt, [obj], {
          now: now(),
          includeObject,
          resourceVersion: obj.metadata.resourceVersion ?? "",
        });
        // Like kube-apiserver, only the first event carries the column definitions.
        return first ? t : { ...t, columnDefinitions: [] };
      },
      expired: (message) => ApiError.expired(message),
    });
    return new Response(stream, {
      status: 200,
      headers: {
        "content-type": table.table ? table.contentType : JSON_TYPE,
        "cache-control": "no-cache, private",
        "x-content-type-options": "nosniff",
      },
    });
  }

  async function deleteOptions(c: Context, url: URL): Promise<DeleteOptions> {
    const text = await readBodyText(c.req.raw, maxBody);
    const body = text.trim() ? parseJsonBody(text) : {};
    if (!isPlainObject(body)) throw ApiError.badRequest("DeleteOptions must be a JSON object");
    const opts: DeleteOptions = { dryRun: isDryRun(url) };
    if (Array.isArray(body.dryRun) && body.dryRun.includes("All")) opts.dryRun = true;
    const policy = url.searchParams.get("propagationPolicy") ?? body.propagationPolicy;
    if (policy !== undefined && policy !== null) {
      if (policy !== "Foreground" && policy !== "Background" && policy !== "Orphan") {
        throw ApiError.badRequest(
          `propagationPolicy must be one of "Foreground", "Background" or "Orphan", got ${
            JSON.stringify(policy)
          }`,
        );
      }
      opts.propagationPolicy = policy;
    }
    if (body.orphanDependents === true && !opts.propagationPolicy) {
      opts.propagationPolicy = "Orphan";
    }
    const grace = intParam(url, "gracePeriodSeconds") ?? body.gracePeriodSeconds;
    if (typeof grace === "number" && Number.isInteger(grace) && grace >= 0) {
      opts.gracePeriodSeconds = grace;
    }
    if (isPlainObject(body.preconditions)) {
      const p = body.preconditions;
      opts.preconditions = {
        ...(typeof p.uid === "string" ? { uid: p.uid } : {}),
        ...(typeof p.resourceVersion === "string" ? { resourceVersion: p.resourceVersion } : {}),
      };
    }
    return opts;
  }

  async function deleteCollection(c: Context, path: ResourcePath, url: URL): Promise<Response> {
    const { rt, namespace } = path;
    const matches = compileSelectors(rt, url);
    const opts = await deleteOptions(c, url);
    const listed = await options.store.list(storePrefix(rt, namespace), {
      ...(matches ? { filter: matches } : {}),
    });
    const items: KubeObject[] = [];
    for (const obj of listed.items) {
      try {
        const res = await objects.delete(rt, obj.metadata.namespace, obj.metadata.name!, opts);
        items.push(res.object);
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === "NotFound")) throw e;
      }
    }
    return respond(c, rt, items, 200, { resourceVersion: String(options.store.revision()) });
  }

  async function scale(c: Context, path: ResourcePath, url: URL): Promise<Response> {
    const { rt, namespace, name } = path;
    const method = c.req.method;
    if (method === "GET") return c.json(toScale(await objects.get(rt, namespace, name!)));
    if (method !== "PUT" && method !== "PATCH") throw ApiError.methodNotAllowed();
    const contentType = (c.req.header("content-type") ?? "").split(";")[0]!.trim();
    const body = method === "PUT"
      ? await readJson(c)
      : parseJsonBody(await readBodyText(c.req.raw, maxBody));
    const current = await objects.get(rt, namespace, name!);
    const scaleObj = method === "PUT"
      ? body
      : applyPatch(contentType, toScale(current), body, "autoscaling/v1", "Scale");
    const next = fromScale(current, scaleObj);
    const res = await objects.update(rt, namespace, name!, next, writeOptions(url));
    return c.json(toScale(res.object));
  }

  /** PUT namespaces/{name}/finalize: replace spec.finalizers, deleting a finalized namespace. */
  async function finalizeNamespace(
    rt: ResourceType,
    name: string,
    body: unknown,
    url: URL,
  ): Promise<KubeObject> {
    const current = await objects.get(rt, undefined, name);
    const spec = isPlainObject(body) && isPlainObject(body.spec) ? body.spec : {};
    const next = cloneJson(current);
    next.spec = {
      ...(isPlainObject(next.spec) ? next.spec : {}),
      finalizers: spec.finalizers ?? [],
    };
    const res = await objects.update(rt, undefined, name, next, writeOptions(url));
    return res.object;
  }

  return app;
}
