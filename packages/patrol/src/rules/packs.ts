// Rule packs: ready rule files shipped with Patrol (packages/patrol/packs/<name>.rules.yml),
// switched on by name from the configuration (`rule_packs:`). They are found next to the
// installed package, never relative to the working folder.

import { existsSync } from 'node:fs';
import { PACKAGE_ROOT } from '../paths.js';

/** The folder holding the packs. */
export const PACKS_DIR = `${PACKAGE_ROOT}packs/`;

export { PACK_NAMES, type PackName } from '../config/patrol.js';

/** The rule file of a pack. */
export function packFile(name: string): string {
  return `${PACKS_DIR}${name}.rules.yml`;
}

/** True when the pack's rule file is installed. */
export function packInstalled(name: string): boolean {
  return existsSync(packFile(name));
}
