#!/usr/bin/env python3
"""Gas per Solidity source line of one contract's frames in a `debug_traceCall` dump.

    STRADDLE_TRACE_STEP="a perpetual" STRADDLE_TRACE_DUMP=trace.json \
        cargo test --release -p straddle-fault-proof --test step_gas_at_scale -- --ignored --nocapture
    python3 scripts/profile-gas.py trace.json OracleStepProver 2 [--lines 40] [--ops File.sol:123]

`depth` is the call depth of the contract's frames in the trace (1: the contract called,
2: one it calls, ...). Needs `contracts/out` from the build that produced the bytecode
traced. A call to a precompile counts what the frame lost across it; a call into a
contract counts 2 600 here, its gas being in the callee's frames (profile them at
depth + 1); compiler-generated helpers show as "generated".
"""
import argparse
import collections
import glob
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "contracts")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trace")
    parser.add_argument("contract")
    parser.add_argument("depth", type=int)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--ops", help="opcode breakdown of one File.sol:line")
    args = parser.parse_args()

    out = os.path.join(ROOT, "out")
    artifact = json.load(open(os.path.join(out, f"{args.contract}.sol", f"{args.contract}.json")))
    code = bytes.fromhex(artifact["deployedBytecode"]["object"][2:])
    source_map = artifact["deployedBytecode"]["sourceMap"].split(";")
    # The build whose source ids the artifact's map uses: the newest naming it.
    paths = {}
    for info in sorted(glob.glob(os.path.join(out, "build-info", "*.json")), key=os.path.getmtime):
        ids = json.load(open(info))["source_id_to_path"]
        if ids.get(str(artifact["id"])) == f"src/{args.contract}.sol":
            paths = {int(k): v for k, v in ids.items()}

    instruction_of = {}
    pc, index = 0, 0
    while pc < len(code):
        instruction_of[pc] = index
        op = code[pc]
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
        index += 1
    entries, last = [], ["0", "0", "0"]
    for entry in source_map:
        for i, part in enumerate(entry.split(":")[:3]):
            if part != "":
                last[i] = part
        entries.append(tuple(int(x) for x in last))

    sources = {}

    def where(pc_value):
        ix = instruction_of.get(pc_value)
        if ix is None or ix >= len(entries):
            return ("generated", 0)
        start, _, file_id = entries[ix]
        path = paths.get(file_id)
        if path is None:
            return ("generated", 0)
        if path not in sources:
            full = os.path.join(ROOT, path)
            sources[path] = open(full, "rb").read() if os.path.exists(full) else b""
        return (path, sources[path][:start].count(b"\n") + 1)

    logs = json.load(open(args.trace))["structLogs"]
    gas = collections.Counter()
    ops = collections.Counter()
    for i, log in enumerate(logs):
        if log["depth"] != args.depth:
            continue
        cost = log["gasCost"]
        if log["op"] in ("CALL", "STATICCALL", "DELEGATECALL"):
            following = logs[i + 1] if i + 1 < len(logs) else None
            if following is not None and following["depth"] == args.depth:
                cost = log["gas"] - following["gas"]
            else:
                # Into a contract: its frames carry its gas (profile them at depth + 1).
                cost = 2_600
        place = where(log["pc"])
        gas[place] += cost
        if args.ops and f"{os.path.basename(place[0])}:{place[1]}" == args.ops:
            ops[log["op"]] += cost
    print(f"gas at depth {args.depth}: {sum(gas.values())}")
    by_file = collections.Counter()
    for (path, _), value in gas.items():
        by_file[os.path.basename(path)] += value
    for name, value in by_file.most_common():
        print(f"{value:>10} {name}")
    for (path, line), value in gas.most_common(args.lines):
        text = ""
        if sources.get(path):
            text = sources[path].split(b"\n")[line - 1].decode().strip()[:90]
        print(f"{value:>10} {os.path.basename(path)}:{line}  {text}")
    if args.ops:
        print(args.ops, ops.most_common(12))


if __name__ == "__main__":
    main()
