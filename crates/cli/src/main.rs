//! `straddle`: run a node, manage keys, send signed actions, query the chain. The
//! command line is in `cli`, each subcommand in `commands`, and what several of them
//! share in `support` (see the crate's README for the layout).

mod cli;
mod commands;
mod support;

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = cli::Cli::parse();
    if let Err(error) = cli::run(cli).await {
        match error.downcast_ref::<jsonrpsee::core::ClientError>() {
            Some(jsonrpsee::core::ClientError::Call(call)) => {
                eprintln!("error: {} (JSON-RPC code {})", call.message(), call.code())
            }
            _ => eprintln!("error: {error:#}"),
        }
        std::process::exit(1);
    }
}
