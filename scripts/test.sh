#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs the project's tools (idempotent),
# checks formatting and that the generated math tables match their generator, then builds and runs every test in the workspace, including the
# end-to-end tests that spawn the real `straddle` binary and the wallet-interop test that
# signs with foundry's cast.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-tools.sh
cargo fmt --all -- --check
PYTHONPATH=tools/python python3 scripts/gen-normal-table.py --check
cargo test --workspace --locked "$@"
