// Where the files shipped beside the code are (package.json, the rule packs, the status page's
// assets): under the package's root, found from this module whether it runs from src/ (tsx),
// from dist/ as tsc compiled it, or from the one-file build dist/patrol.js that bin/patrol.js runs.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const NAME = '@patrol/server';

function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; ) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === NAME) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`${NAME}'s package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The package's folder (packages/patrol in the repository), with a trailing separator. */
export const PACKAGE_ROOT = join(packageRoot(), '/');
