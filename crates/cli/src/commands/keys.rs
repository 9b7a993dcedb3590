//! `straddle keys new|show|dev`: create a key file, show the address of a key, list the
//! devnet's test accounts. Reading key files and choosing the signing key (`KeyArgs`)
//! live in `support`, since every signing command needs them.

use crate::support::{KeyArgs, KeyFile, print};
use alloy_signer_local::PrivateKeySigner;
use clap::Subcommand;
use eyre::Context;
use std::path::{Path, PathBuf};
use straddle_exchange::devnet::dev_key;

/// `straddle keys`.
#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a new random key and save it (mode 0600).
    New {
        /// Where to write it.
        #[arg(long, default_value = ".straddle/key.json")]
        out: PathBuf,
    },
    /// Show the address of a key.
    Show {
        #[command(flatten)]
        key: KeyArgs,
    },
    /// List the devnet's well-known test accounts (public keys: never hold value).
    Dev,
}

/// Runs `straddle keys …`.
pub(crate) fn run(json: bool, command: KeysCommand) -> eyre::Result<()> {
    match command {
        KeysCommand::New { out } => {
            let signer = write_new_key_file(&out)?;
            print(
                json,
                &serde_json::json!({"address": signer.address(), "keyFile": out}),
                || {
                    format!(
                        "address  {}\nkey file {} (keep it secret)",
                        signer.address(),
                        out.display()
                    )
                },
            )
        }
        KeysCommand::Show { key } => {
            let signer = key.signer()?;
            print(
                json,
                &serde_json::json!({"address": signer.address()}),
                || signer.address().to_string(),
            )
        }
        KeysCommand::Dev => {
            let accounts: Vec<_> = (0..10)
                .filter_map(|i| PrivateKeySigner::from_bytes(&dev_key(i)).ok().map(|s| (i, s)))
                .map(|(i, s)| serde_json::json!({"index": i, "address": s.address(), "privateKey": s.to_bytes()}))
                .collect();
            print(json, &accounts, || {
                accounts
                    .iter()
                    .map(|a| {
                        format!(
                            "{}  {}  {}",
                            a["index"],
                            a["address"].as_str().unwrap_or(""),
                            a["privateKey"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
    }
}

/// Writes a new random key to `path` (mode 0600), refusing to overwrite.
fn write_new_key_file(path: &Path) -> eyre::Result<PrivateKeySigner> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let signer = PrivateKeySigner::random();
    let file = KeyFile {
        address: signer.address(),
        private_key: signer.to_bytes(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .wrap_err_with(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    out.write_all(serde_json::to_string_pretty(&file)?.as_bytes())?;
    Ok(signer)
}
