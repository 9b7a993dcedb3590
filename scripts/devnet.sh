#!/usr/bin/env bash
# Sets up and starts a local Straddle devnet: installs the project's tools (idempotent),
# builds the `straddle` binary in release mode and runs `straddle devnet`: anvil as the
# L1 with the contracts deployed and the dev accounts funded, a sequencer, a follower
# that rebuilds the chain from L1, a batcher, a proposer, an oracle feed and a market
# maker. It prints the endpoints, addresses and keys; Ctrl-C stops everything.
#   L1: http://127.0.0.1:8545   L2 sequencer (HTTP + WebSocket): http://127.0.0.1:9545
#   follower: http://127.0.0.1:9546   metrics: :9100 and :9101   logs: .devnet/logs
# Every run starts a fresh chain (anvil keeps no state). Extra arguments go to
# `straddle devnet` (see `straddle devnet --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-tools.sh
cargo build --release --locked -p straddle-cli
exec ./target/release/straddle devnet "$@"
