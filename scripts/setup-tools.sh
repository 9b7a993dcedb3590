#!/usr/bin/env bash
# Installs the project's non-Rust tools into ./tools (idempotent), all pinned: from npm,
# foundry's cast (an independent EIP-712 signer used by the interop tests), anvil (the L1
# of the devnet and the end-to-end tests) and forge (builds and tests ./contracts), solc
# (solcjs; forge calls it through scripts/solc-shim.js) and OpenZeppelin's contracts;
# from PyPI, mpmath (the high-precision reference behind the fixed-point math tables)
# into ./tools/python.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p tools
cd tools
[ -f package.json ] || echo '{"name":"straddle-tools","private":true}' > package.json
want=(
  "@foundry-rs/cast-linux-amd64@1.7.1"
  "@foundry-rs/anvil-linux-amd64@1.7.1"
  "@foundry-rs/forge-linux-amd64@1.7.1"
  "solc@0.8.30"
  "@openzeppelin/contracts@5.4.0"
)
installed=true
for package in "${want[@]}"; do
  name="${package%@*}"
  version="${package##*@}"
  if ! grep -q "\"version\": \"$version\"" "node_modules/$name/package.json" 2>/dev/null; then
    installed=false
  fi
done
if [ "$installed" != true ]; then
  npm install --no-audit --no-fund --loglevel=error "${want[@]}" >/dev/null
fi
for tool in cast anvil forge; do
  node_modules/.bin/$tool --version | head -1
done
echo "solc $(node -e 'console.log(require("./node_modules/solc").version())')"
if [ ! -d python/mpmath ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target python mpmath==1.3.0
fi
echo "mpmath $(PYTHONPATH=python python3 -c 'import mpmath; print(mpmath.__version__)')"
