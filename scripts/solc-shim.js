#!/usr/bin/env node
// A `solc` executable for forge, backed by solcjs from ./tools (forge cannot download a
// native solc here). It answers `--version` the way native solc does and compiles
// `--standard-json` input from stdin. Sources forge did not inline are read from disk,
// relative to the working directory, `--base-path` or an `--include-path`.
'use strict';
const path = require('path');
const solc = require(path.join(__dirname, '..', 'tools', 'node_modules', 'solc'));

const fs = require('fs');

const args = process.argv.slice(2);
const roots = ['.'];
args.forEach((arg, i) => {
  if ((arg === '--base-path' || arg === '--include-path') && args[i + 1]) roots.push(args[i + 1]);
});
if (args.includes('--version')) {
  process.stdout.write('solc, the solidity compiler commandline interface\n');
  process.stdout.write(`Version: ${solc.version().replace('.Emscripten.clang', '.Linux.g++')}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
  process.exit(2);
}
const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  const input = Buffer.concat(chunks).toString('utf8');
  const readImport = (file) => {
    for (const root of roots) {
      const candidate = path.resolve(root, file);
      if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
    }
    return { error: `not found under ${roots.join(', ')}: ${file}` };
  };
  process.stdout.write(solc.compile(input, { import: readImport }));
});
