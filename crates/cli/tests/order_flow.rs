//! The trading commands and the order load generator against the real binary: a ladder
//! quoted under one signature, a crossing order filled by price then time, the book and
//! open orders as the CLI prints them, cancel-all, and `straddle bench orders` in both
//! modes finishing within its bounds with every request acknowledged.

mod common;

use common::{NodeProcess, run_cli};

fn json(output: &str) -> serde_json::Value {
    serde_json::from_str(output).unwrap_or_else(|e| panic!("not JSON ({e}): {output}"))
}

#[test]
fn trading_commands_and_the_order_load_generator_work_against_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = NodeProcess::start(&dir.path().join("node"));
    let rpc = node.url.clone();
    let cli = |args: &[&str]| json(&run_cli(&[&["--rpc", &rpc, "--json"], args].concat()));

    for dev in ["1", "2"] {
        cli(&["margin", "deposit", "--dev", dev, "--amount", "20000"]);
    }
    cli(&["oracle", "push", "--price", "3000"]);
    cli(&[
        "order",
        "quote",
        "--market",
        "1",
        "--dev",
        "1",
        "--bids",
        "2999:1,2998:2",
        "--asks",
        "3001:1,3002:2",
    ]);
    let ack = cli(&[
        "order", "place", "--market", "1", "--dev", "2", "--side", "buy", "--size", "1.5",
        "--price", "3002",
    ]);
    assert_eq!(ack["status"], "filled", "{ack}");
    let prices: Vec<u64> = ack["fills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["price"].as_u64().unwrap())
        .collect();
    assert_eq!(
        prices,
        vec![3_001_000_000, 3_002_000_000],
        "best price first"
    );
    let market = cli(&[
        "order",
        "place",
        "--market",
        "1",
        "--dev",
        "2",
        "--side",
        "sell",
        "--size",
        "0.5",
        "--market-order",
    ]);
    assert_eq!(market["fills"][0]["price"], 2_999_000_000u64, "{market}");

    let book = cli(&["order", "book", "--market", "1"]);
    assert_eq!(book["asks"][0][0], 3_002_000_000u64, "{book}");
    assert_eq!(book["asks"][0][1], 1_500_000u64, "{book}");
    let maker = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    let open = cli(&["order", "open", "--address", maker]);
    assert_eq!(open.as_array().unwrap().len(), 3, "{open}");
    cli(&["order", "cancel-all", "--dev", "1"]);
    let book = cli(&["order", "book", "--market", "1"]);
    assert!(book["asks"].as_array().unwrap().is_empty(), "{book}");
    assert!(book["bids"].as_array().unwrap().is_empty(), "{book}");

    for mode in [&["--bulk", "--ladder", "8"][..], &[][..]] {
        let report = cli(&[
            &[
                "bench",
                "orders",
                "--makers",
                "4",
                "--takers",
                "2",
                "--requests-per-maker",
                "40",
                "--orders-per-taker",
                "40",
                "--max-seconds",
                "60",
            ][..],
            mode,
        ]
        .concat());
        assert_eq!(report["requests"], 240, "{report}");
        assert_eq!(
            (report["refused"].clone(), report["failed"].clone()),
            (0.into(), 0.into())
        );
        assert!(report["fills"].as_u64().unwrap() > 0, "{report}");
    }
    node.stop();
}
