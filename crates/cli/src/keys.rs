//! Key files and key selection.

use alloy_primitives::B256;
use alloy_signer_local::PrivateKeySigner;
use eyre::{Context, bail, eyre};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A plaintext key file (devnet and testing; protect it like the key itself).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyFile {
    /// The address, for humans.
    pub address: alloy_primitives::Address,
    /// The secp256k1 private key, hex.
    pub private_key: B256,
}

/// Parses a hex private key (with or without 0x).
pub fn parse_private_key(text: &str) -> eyre::Result<PrivateKeySigner> {
    let key: B256 = text
        .trim()
        .parse()
        .map_err(|_| eyre!("private key must be 32 bytes of hex"))?;
    PrivateKeySigner::from_bytes(&key).map_err(|_| eyre!("not a valid secp256k1 private key"))
}

/// Reads a key file.
pub fn read_key_file(path: &Path) -> eyre::Result<PrivateKeySigner> {
    let text = std::fs::read_to_string(path)
        .wrap_err_with(|| format!("cannot read key file {}", path.display()))?;
    let file: KeyFile = serde_json::from_str(&text)
        .wrap_err("key file is not valid JSON of {address, privateKey}")?;
    let signer = PrivateKeySigner::from_bytes(&file.private_key)
        .map_err(|_| eyre!("key file holds an invalid key"))?;
    if signer.address() != file.address {
        bail!(
            "key file address {} does not match its key ({})",
            file.address,
            signer.address()
        );
    }
    Ok(signer)
}

/// Writes a new random key to `path` (mode 0600), refusing to overwrite.
pub fn write_new_key_file(path: &Path) -> eyre::Result<PrivateKeySigner> {
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
