#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs the project's tools (idempotent),
# checks formatting and that the generated math tables match their generator, builds and
# tests the L1 contracts with forge and checks the Rust bindings' artifacts are fresh,
# then builds and runs every test in the workspace, including the
# end-to-end tests that spawn the real `straddle` binary and the wallet-interop test that
# signs with foundry's cast.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-tools.sh
cargo fmt --all -- --check
PYTHONPATH=tools/python python3 scripts/gen-normal-table.py --check
(mkdir -p target && cd contracts && ../tools/node_modules/.bin/forge test > ../target/forge-test.log 2>&1) \
  || { cat target/forge-test.log; exit 1; }
grep -E "^Suite result|tests passed" target/forge-test.log
python3 scripts/export-artifacts.py --check
cargo test --workspace --locked "$@"
