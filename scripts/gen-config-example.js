// Rewrites config/bindsnoop.example.yaml from the schema (after a build).
const { writeFileSync } = require('node:fs');
const { exampleConfigYaml } = require('../dist/config/example.js');
writeFileSync(require('node:path').resolve(__dirname, '..', 'config', 'bindsnoop.example.yaml'), exampleConfigYaml());
