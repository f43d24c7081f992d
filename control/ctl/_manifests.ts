/**
 * Reading manifests for `apply -f` and `delete -f`: files, directories (`*.yaml`, `*.yml`,
 * `*.json`, sorted; recursive with `-R`) and `-` for stdin; multi-document YAML, JSON, and
 * lists (`kind: List`) flattened to their items.
 *
 * @module
 */

import { parseYamlDocuments } from "../../storage/yaml.ts";
import { isPlainObject, type KubeObject } from "../../storage/object.ts";
import { CtlError } from "./_client.ts";

/** One object from a manifest, with where it came from (`"app.yaml"`, `"STDIN"`). */
export interface Manifest {
  source: string;
  object: KubeObject;
}

const EXTENSIONS = [".yaml", ".yml", ".json"];

/** Every object named by `-f` arguments, in order; throws {@linkcode CtlError} on bad input. */
export async function readManifests(
  paths: readonly string[],
  recursive: boolean,
  readStdin: () => Promise<string>,
): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const path of paths) {
    if (path === "-") {
      out.push(...parseManifests("STDIN", await readStdin()));
      continue;
    }
    for (const file of await expand(path, recursive)) {
      let text: string;
      try {
        text = await Deno.readTextFile(file);
      } catch (err) {
        throw new CtlError(`unable to read "${file}": ${err instanceof Error ? err.message : err}`);
      }
      out.push(...parseManifests(file, text));
    }
  }
  return out;
}

async function expand(path: string, recursive: boolean): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new CtlError(`the path "${path}" does not exist`);
  }
  if (!info.isDirectory) return [path];
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(path)) entries.push(entry);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const full = `${path.replace(/\/+$/, "")}/${entry.name}`;
    if (entry.isDirectory) {
      if (recursive) files.push(...await expand(full, recursive));
    } else if (EXTENSIONS.some((ext) => entry.name.endsWith(ext))) {
      files.push(full);
    }
  }
  return files;
}

/** The objects of one manifest text (YAML or JSON, many documents, lists flattened). */
export function parseManifests(source: string, text: string): Manifest[] {
  let docs: unknown[];
  try {
    docs = parseYamlDocuments(text);
  } catch (err) {
    throw new CtlError(`error parsing ${source}: ${err instanceof Error ? err.message : err}`);
  }
  const out: Manifest[] = [];
  const add = (doc: unknown) => {
    if (!isPlainObject(doc)) {
      throw new CtlError(`error parsing ${source}: a document is not an object`);
    }
    if (typeof doc.kind === "string" && doc.kind.endsWith("List") && Array.isArray(doc.items)) {
      for (const item of doc.items) add(item);
      return;
    }
    if (typeof doc.kind !== "string" || doc.kind === "") {
      throw new CtlError(
        `unable to decode "${source}": Object 'Kind' is missing in '${JSON.stringify(doc)}'`,
      );
    }
    if (typeof doc.apiVersion !== "string" || doc.apiVersion === "") {
      throw new CtlError(
        `unable to decode "${source}": Object 'apiVersion' is missing in '${JSON.stringify(doc)}'`,
      );
    }
    if (!isPlainObject(doc.metadata)) doc.metadata = {};
    out.push({ source, object: doc as KubeObject });
  };
  for (const doc of docs) add(doc);
  return out;
}
