/**
 * YAML behind one module (the `yaml` npm package), so it can be swapped.
 *
 * @module
 */

import YAML from "yaml";

/** Parse every document of a (multi-document) YAML or JSON text; empty documents are skipped. */
export function parseYamlDocuments(text: string): unknown[] {
  const docs = YAML.parseAllDocuments(text);
  const out: unknown[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message);
    const value = doc.toJSON();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/** Render a value as YAML the way kubectl does (block style, no line folding). */
export function toYaml(value: unknown): string {
  return YAML.stringify(value, { lineWidth: 0, aliasDuplicateObjects: false, indentSeq: false });
}
