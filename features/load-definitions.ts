/**
 * Loads the feature definitions directory: imports every `.ts` / `.js` file in it (sorted by
 * name; tests and type declarations skipped), collects their exports and validates them. A file
 * that cannot be imported is reported like any other problem, with its name.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TesseraError, errorMessage } from '../src/common/errors.ts';
import type { SourcesConfig } from '../src/sources/sources-config.ts';
import type { FeatureSet } from './feature-model.ts';
import type { EventCatalog } from './source-fields.ts';
import { FeatureValidationError, validateDefinitions, type ExportedDeclaration, type Issue } from './validate-definitions.ts';

/** `features/definitions` of this checkout: the default directory. */
export const DEFAULT_FEATURES_DIR = path.resolve(fileURLToPath(import.meta.url), '../definitions');

const DEFINITION_FILE = /\.(ts|mts|js|mjs)$/;
const SKIPPED = /\.(test|spec|d)\.(ts|mts|js|mjs)$/;

export interface LoadedDefinitions {
  dir: string;
  set: FeatureSet;
  catalog: EventCatalog;
  files: string[];
}

/** Imports the files of `dir`; returns their exports and the files that failed to load. */
export async function importDefinitionFiles(dir: string): Promise<{ files: string[]; exported: ExportedDeclaration[]; issues: Issue[] }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => DEFINITION_FILE.test(n) && !SKIPPED.test(n)).sort();
  } catch (err) {
    throw new TesseraError('features_dir_missing', `Cannot read the features directory ${dir}: ${errorMessage(err)} (set TESSERA_FEATURES_DIR)`, 400);
  }
  const exported: ExportedDeclaration[] = [];
  const issues: Issue[] = [];
  const files: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    const label = path.relative(process.cwd(), file) || name;
    files.push(label);
    try {
      // The modification time busts the module cache, so a long-running process sees edits.
      const { mtimeMs } = await stat(file);
      const module = (await import(`${pathToFileURL(file).href}?v=${Math.trunc(mtimeMs)}`)) as Record<string, unknown>;
      for (const [exportName, value] of Object.entries(module)) exported.push({ file: label, exportName, value });
    } catch (err) {
      issues.push({ file: label, message: `cannot be loaded: ${errorMessage(err).split('\n')[0]}` });
    }
  }
  return { files, exported, issues };
}

/** Loads and validates the definitions; throws FeatureValidationError listing every problem. */
export async function loadDefinitions(dir: string, sources: SourcesConfig): Promise<LoadedDefinitions> {
  const { files, exported, issues } = await importDefinitionFiles(dir);
  const validated = validateDefinitions(exported, { sources });
  const all = [...issues, ...(validated.ok ? [] : validated.issues)];
  if (all.length || !validated.ok) throw new FeatureValidationError(all);
  return { dir, set: validated.set, catalog: validated.catalog, files };
}
