#!/usr/bin/env bash
# Installs the project's non-Rust tools into ./tools (idempotent): foundry's cast (an
# independent EIP-712 signer used by the interop tests) from npm, and mpmath (the
# high-precision reference behind the fixed-point math tables) from PyPI into
# ./tools/python. Later issues add anvil, forge and solc here.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p tools
cd tools
[ -f package.json ] || echo '{"name":"straddle-tools","private":true}' > package.json
want=("@foundry-rs/cast-linux-amd64@1.7.1")
if [ ! -x node_modules/.bin/cast ]; then
  npm install --no-audit --no-fund --loglevel=error "${want[@]}" >/dev/null
fi
node_modules/.bin/cast --version | head -1
if [ ! -d python/mpmath ]; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target python mpmath==1.3.0
fi
echo "mpmath $(PYTHONPATH=python python3 -c 'import mpmath; print(mpmath.__version__)')"
