import { readFileSync } from 'node:fs';
import { PACKAGE_ROOT } from './paths.js';

const pkg = JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version: string };

export const VERSION: string = pkg.version;

export const BUILD_INFO = {
  version: VERSION,
  revision: process.env.PATROL_REVISION ?? 'unknown',
  branch: process.env.PATROL_BRANCH ?? 'main',
  buildUser: 'patrol',
  buildDate: process.env.PATROL_BUILD_DATE ?? 'unknown',
  goVersion: `node${process.versions.node}`,
};
