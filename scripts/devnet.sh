#!/usr/bin/env bash
# Sets up and starts a local Straddle devnet: installs the project's tools (idempotent),
# builds the `straddle` binary in release mode and runs the sequencer node with the devnet
# genesis (ten funded anvil dev accounts; account 0 is the operator). State lives in
# ./.devnet and survives restarts; delete that folder for a fresh chain.
#   RPC (HTTP + WebSocket): http://127.0.0.1:9545   metrics: http://127.0.0.1:9100/metrics
# Extra arguments are passed to `straddle node` (see `straddle node --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-tools.sh
cargo build --release --locked -p straddle-cli
exec ./target/release/straddle node --data-dir .devnet/node "$@"
