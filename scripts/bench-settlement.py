#!/usr/bin/env python3
"""Measures settlement on a local devnet (`straddle devnet`, release build):

1. deposit -> credit latency: deposits sent with `cast` alone, timed from submission to
   the credit on the sequencer and on the follower (which needs the batch on L1);
2. L1 cost of the order generator's chain: gas, blob gas and bytes per batch and per
   settled fill, from the batcher's `batch posted` log lines;
3. re-derivation speed: a fresh follower started after the load rebuilds the chain from
   L1 alone; its time against the L2 time the chain spans;
4. withdrawal -> finalize latency: `straddle withdraw`, then `straddle withdraw
   finalize --wait-secs` until the tokens are paid on L1.

Run from the repository root after `cargo build --release -p straddle-cli` and
`./scripts/setup-tools.sh`:

    python3 scripts/bench-settlement.py [--load-seconds 30] [--rate 1500] [--da cheapest]

It uses ports 18545 (anvil), 19545-19547 (L2) and 19100-19101 (metrics), and the folder
.bench/settlement (emptied first). Prints a Markdown summary.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

BIN = "./target/release/straddle"
CAST = "./tools/node_modules/.bin/cast"
DIR = ".bench/settlement"
L1 = "http://127.0.0.1:18545"
SEQUENCER = "http://127.0.0.1:19545"
FOLLOWER = "http://127.0.0.1:19546"
REFOLLOWER_PORT = 19547
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
]


def rpc(url, method, params=()):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
    request = urllib.request.Request(
        url, body.encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.load(response)
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def head(url):
    return rpc(url, "straddle_chainHead")


def collateral(url, address):
    return int(rpc(url, "straddle_getAccount", [address])["collateral"])


def wait_until(what, condition, timeout=300, interval=0.01):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            sys.exit(f"timed out: {what}")
        time.sleep(interval)


def run(*args, capture=True):
    result = subprocess.run(args, capture_output=capture, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {result.stderr}")
    return result.stdout


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_deposits(summary, count):
    token = summary["deployment"]["collateral"]
    portal = summary["deployment"]["portal"]
    key = DEV_KEYS[3]
    run(CAST, "send", token, "approve(address,uint256)", portal, str(10**15),
        "--private-key", key, "--rpc-url", L1)
    to_sequencer, to_follower = [], []
    for i in range(count):
        recipient = "0x" + f"{0xd0 + i:02x}" * 20
        started = time.time()
        run(CAST, "send", "--async", portal, "deposit(address,uint256)", recipient,
            "1000000", "--private-key", key, "--rpc-url", L1)
        wait_until("deposit credited", lambda: collateral(SEQUENCER, recipient) == 1_000_000)
        to_sequencer.append(time.time() - started)
        wait_until("deposit derived", lambda: collateral(FOLLOWER, recipient) == 1_000_000)
        to_follower.append(time.time() - started)
        time.sleep(0.37)  # land at different points of the L1 block interval
    return to_sequencer, to_follower


def batch_lines(path, after_block):
    pattern = re.compile(r"(\w+)=(\S+)")
    rows = []
    with open(path) as log:
        for line in log:
            if "batch posted" not in line:
                continue
            fields = dict(pattern.findall(line))
            if int(fields["first"]) > after_block:
                rows.append(fields)
    return rows


def measure_rederivation(summary):
    deployment = summary["deployment"]
    data_dir = os.path.join(DIR, "refollower")
    log = open(os.path.join(DIR, "refollower.log"), "w")
    target = head(SEQUENCER)["soft"]["number"]
    started = time.time()
    follower = subprocess.Popen(
        [BIN, "node", "--follow", "--data-dir", data_dir,
         "--rpc-addr", f"127.0.0.1:{REFOLLOWER_PORT}", "--no-metrics",
         "--l1-rpc", L1, "--portal", deployment["portal"], "--inbox", deployment["batchInbox"],
         "--l1-start-block", str(deployment["startBlock"]), "--l1-poll-ms", "50"],
        stdout=subprocess.PIPE, stderr=log, text=True,
    )
    follower.stdout.readline()  # the ready line
    url = f"http://127.0.0.1:{REFOLLOWER_PORT}"
    wait_until("re-derivation", lambda: head(url)["soft"]["number"] >= target, interval=0.02)
    seconds = time.time() - started
    follower.send_signal(signal.SIGTERM)
    follower.wait()
    first = rpc(SEQUENCER, "straddle_getBlock", [1, False])["timestampMs"]
    last = rpc(SEQUENCER, "straddle_getBlock", [target, False])["timestampMs"]
    # Steady state: the batches derived after the one-time KZG setup (the longest pause
    # between two derived batches), their transactions and the L2 time they cover.
    derived = []
    with open(os.path.join(DIR, "refollower.log")) as lines:
        for line in lines:
            if "batch derived" in line:
                fields = dict(re.findall(r"(\w+)=(\S+)", line))
                stamp = line.split()[0]
                clock = time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
                derived.append((time.mktime(clock) + float("0." + stamp[20:-1]),
                                int(fields["transactions"]), int(fields["last"])))
    pause = max(range(1, len(derived)), key=lambda i: derived[i][0] - derived[i - 1][0])
    window = derived[pause:]
    if len(window) < 3:
        return target, seconds, (last - first) / 1000.0, None
    wall = window[-1][0] - window[0][0]
    covered = (rpc(SEQUENCER, "straddle_getBlock", [window[-1][2], False])["timestampMs"]
               - rpc(SEQUENCER, "straddle_getBlock", [window[0][2], False])["timestampMs"]) / 1000.0
    steady = (sum(d[1] for d in window[1:]) / wall, covered / wall, covered)
    return target, seconds, (last - first) / 1000.0, steady


def measure_withdrawal(summary):
    deployment = summary["deployment"]
    started = time.time()
    receipt = json.loads(run(BIN, "--rpc", SEQUENCER, "--json", "withdraw", "--dev", "1",
                             "--amount", "10"))
    index = receipt["withdrawalIndex"]
    requested = time.time()
    run(BIN, "--rpc", FOLLOWER, "withdraw", "finalize", "--index", str(index),
        "--l1-rpc", L1, "--portal", deployment["portal"],
        "--registry", deployment["outputRegistry"], "--l1-key", DEV_KEYS[2],
        "--wait-secs", "300")
    return requested - started, time.time() - started


def measure_forced(summary):
    """A withdrawal forced through the Portal: from `straddle withdraw --via-l1` to its
    inclusion on the sequencer and on the follower."""
    dev4 = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
    before = collateral(SEQUENCER, dev4)
    started = time.time()
    run(BIN, "--rpc", SEQUENCER, "withdraw", "--dev", "4", "--amount", "5",
        "--expires-in", "3600", "--via-l1", "--l1-rpc", L1,
        "--portal", summary["deployment"]["portal"])
    wait_until("forced withdrawal included", lambda: collateral(SEQUENCER, dev4) == before - 5_000_000)
    on_sequencer = time.time() - started
    wait_until("forced withdrawal derived", lambda: collateral(FOLLOWER, dev4) == before - 5_000_000)
    return on_sequencer, time.time() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--load-seconds", type=int, default=30)
    parser.add_argument("--rate", type=int, default=1500)
    parser.add_argument("--da", default="cheapest")
    parser.add_argument("--deposits", type=int, default=5)
    args = parser.parse_args()
    shutil.rmtree(DIR, ignore_errors=True)
    os.makedirs(DIR)
    devnet = subprocess.Popen(
        [BIN, "devnet", "--dir", DIR, "--l1-port", "18545", "--rpc-port", "19545",
         "--metrics-port", "19100", "--da", args.da],
        stdout=subprocess.PIPE, stderr=open(os.path.join(DIR, "devnet.log"), "w"), text=True,
    )
    try:
        for line in devnet.stdout:
            if "Ctrl-C stops everything" in line:
                break
        else:
            sys.exit(f"the devnet did not start; see {DIR}/devnet.log")
        summary = json.load(open(os.path.join(DIR, "devnet.json")))

        to_sequencer, to_follower = measure_deposits(summary, args.deposits)
        forced_sequencer, forced_follower = measure_forced(summary)

        before_load = head(SEQUENCER)["soft"]["number"]
        report = json.loads(run(
            BIN, "--rpc", SEQUENCER, "--json", "bench", "orders", "--makers", "8",
            "--takers", "8", "--requests-per-maker", str(args.rate * args.load_seconds // 16),
            "--orders-per-taker", str(args.rate * args.load_seconds // 16),
            "--rate", str(args.rate), "--max-seconds", str(args.load_seconds)))
        loaded_head = head(SEQUENCER)["soft"]["number"]
        wait_until("the batcher catches up",
                   lambda: head(SEQUENCER)["safe"]["number"] >= loaded_head, interval=0.2)
        wait_until("the follower catches up",
                   lambda: head(FOLLOWER)["soft"]["number"] >= loaded_head, interval=0.2)
        rows = batch_lines(os.path.join(DIR, "logs", "batcher.log"), before_load)

        blocks, rederive_seconds, l2_seconds, derive_tps = measure_rederivation(summary)
        request_seconds, withdraw_seconds = measure_withdrawal(summary)
    finally:
        devnet.send_signal(signal.SIGINT)
        devnet.wait()

    gas = sum(int(r["gas"]) for r in rows)
    blob_gas = sum(int(r["blob_gas"]) for r in rows)
    size = sum(int(r["bytes"]) for r in rows)
    fills = sum(int(r["fills"]) for r in rows)
    txs = sum(int(r["transactions"]) for r in rows)
    kinds = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(f"load: {report['requests']} requests in {report['seconds']:.1f} s "
          f"({report['refused']} refused, {report['failed']} failed, {report['orders']} orders, "
          f"{report['cancels']} cancels, {report['fills']} fills)")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| deposit -> credited on the sequencer (submit to credit, {len(to_sequencer)} deposits) "
          f"| median {percentile(to_sequencer, 0.5):.2f} s, max {max(to_sequencer):.2f} s |")
    print(f"| deposit -> derived by the follower | median {percentile(to_follower, 0.5):.2f} s, "
          f"max {max(to_follower):.2f} s |")
    print(f"| forced withdrawal (`--via-l1`) -> included by the sequencer / derived by the follower "
          f"| {forced_sequencer:.2f} s / {forced_follower:.2f} s |")
    print(f"| batches under load | {len(rows)} ({', '.join(f'{k}: {v}' for k, v in kinds.items())}) |")
    print(f"| transactions / fills carried | {txs} / {fills} |")
    print(f"| batch bytes | {size} ({size / max(len(rows), 1):.0f} per batch, "
          f"{size / max(fills, 1):.0f} per fill) |")
    print(f"| L1 gas | {gas} ({gas / max(len(rows), 1):.0f} per batch, "
          f"{gas / max(fills, 1):.0f} per fill) |")
    print(f"| blob gas | {blob_gas} ({blob_gas / max(len(rows), 1):.0f} per batch, "
          f"{blob_gas / max(fills, 1):.0f} per fill) |")
    print(f"| re-derivation from L1 | {blocks} blocks spanning {l2_seconds:.1f} s of L2 time "
          f"in {rederive_seconds:.2f} s = {l2_seconds / rederive_seconds:.1f}x real time |")
    if derive_tps:
        tps, ratio, covered = derive_tps
        print(f"| re-derivation after the one-time KZG setup | {covered:.1f} s of L2 time at "
              f"{ratio:.1f}x real time, {tps:.0f} transactions/s |")
    print(f"| withdrawal -> paid on L1 | {withdraw_seconds:.1f} s "
          f"(request {request_seconds:.2f} s, challenge window {summary['challengeWindowSecs']} s) |")


if __name__ == "__main__":
    main()
