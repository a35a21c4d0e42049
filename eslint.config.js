// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers import one way (DESIGN.md §2): hw ← pmap ← mm ← api. A file may import from
// its own layer and the layers below it, never from above.
const layerRule = (layer, forbidden) => ({
  files: [`src/${layer}/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: forbidden.map((f) => ({
          group: [`**/${f}/*`, `../${f}/*`, `../../${f}/*`],
          message: `${layer}/ is below ${f}/ in DESIGN.md §2 and must not import it.`,
        })),
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  layerRule('ds', ['hw', 'pmap', 'mm', 'kernel', 'api', 'step', 'invariants']),
  layerRule('hw', ['pmap', 'mm', 'kernel', 'api', 'step', 'invariants']),
  layerRule('step', ['pmap', 'mm', 'kernel', 'api', 'invariants']),
  layerRule('pmap', ['mm', 'kernel', 'api', 'invariants']),
  layerRule('mm', ['api', 'invariants']),
  layerRule('invariants', ['api']),
);
