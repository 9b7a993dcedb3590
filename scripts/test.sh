#!/usr/bin/env bash
# Runs the whole test suite from a fresh clone: installs the project's tools (idempotent),
# checks formatting, then builds and runs every test in the workspace, including the
# end-to-end tests that spawn the real `straddle` binary and the wallet-interop test that
# signs with foundry's cast.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-tools.sh
cargo fmt --all -- --check
cargo test --workspace --locked "$@"
