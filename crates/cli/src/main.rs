//! `straddle`: run a node, manage keys, send signed actions, query the chain.

mod batch_size;
mod bench;
mod bench_orders;
mod commands;
mod devnet;
mod keys;
mod orders;

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = commands::Cli::parse();
    if let Err(error) = commands::run(cli).await {
        match error.downcast_ref::<jsonrpsee::core::ClientError>() {
            Some(jsonrpsee::core::ClientError::Call(call)) => {
                eprintln!("error: {} (JSON-RPC code {})", call.message(), call.code())
            }
            _ => eprintln!("error: {error:#}"),
        }
        std::process::exit(1);
    }
}
