#!/usr/bin/env python3
"""Copies the ABI and bytecode of Straddle's L1 contracts from forge's build output
(contracts/out) into crates/l1-contracts/artifacts, where the Rust bindings read them, so
building the Rust workspace never needs Node or forge.

    python3 scripts/export-artifacts.py           # after `forge build`: rewrite
    python3 scripts/export-artifacts.py --check   # fail when the committed copies are stale
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONTRACTS = ["Portal", "BatchInbox", "OutputRegistry", "DisputeGame", "StepProver", "OrderStepProver", "MarginStepProver", "MatchStepProver", "LiquidationStepProver",
             "OracleStepProver", "BatchOpener", "SourceRules", "OptionPricer", "TestUSDC"]
OUT = ROOT / "contracts" / "out"
DEST = ROOT / "crates" / "l1-contracts" / "artifacts"


def exported(name: str) -> str:
    built = json.loads((OUT / f"{name}.sol" / f"{name}.json").read_text())
    artifact = {
        "abi": built["abi"],
        "bytecode": {"object": built["bytecode"]["object"]},
        "deployedBytecode": {"object": built["deployedBytecode"]["object"]},
    }
    return json.dumps(artifact, indent=1, sort_keys=True) + "\n"


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    DEST.mkdir(parents=True, exist_ok=True)
    for name in CONTRACTS:
        fresh = exported(name)
        path = DEST / f"{name}.json"
        if check:
            if not path.exists() or path.read_text() != fresh:
                stale.append(name)
        else:
            path.write_text(fresh)
    if stale:
        print(
            "stale contract artifacts: " + ", ".join(stale)
            + " (run `forge build` in contracts/, then scripts/export-artifacts.py)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
