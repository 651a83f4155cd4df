import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['packages/patrol/**/*.ts'],
    languageOptions: {
      parserOptions: { project: ['./packages/patrol/tsconfig.check.json', './packages/sdk/tsconfig.check.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself tracks.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-control-regex': 'off',
    },
  },
  {
    // Leaf packages: configuration and the data model are read by the components, never the
    // other way round (no import cycles config <-> probe).
    files: ['packages/patrol/src/config/**/*.ts', 'packages/patrol/src/model/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(probe|scrape|collect|host|api|cli|storage|tsdb|promql|testing)/|^\\.\\./(server|component)\\.js$',
              message: 'config/ and model/ are leaf modules: they must not import components (move the shared code into model/).',
            },
          ],
        },
      ],
    },
  },
);
