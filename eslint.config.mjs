// The linter ./dev test runs (npm run lint): typescript-eslint's recommended rules on src/ and test/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'native/', 'build/', 'bench/', 'scripts/', 'bpf/', 'charts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { require: 'readonly', __dirname: 'readonly', process: 'readonly', module: 'readonly', console: 'readonly' } },
  },
);
