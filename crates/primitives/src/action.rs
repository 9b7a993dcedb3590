//! User actions as EIP-712 typed data under the `Straddle` domain.
//!
//! The Solidity struct definitions below are the signing format; `docs/spec/actions.md`
//! lists them with their type strings and a worked example.

use crate::amount::Amount;
use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::{Eip712Domain, SolStruct, sol};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// EIP-712 domain name of every Straddle action.
pub const DOMAIN_NAME: &str = "Straddle";
/// EIP-712 domain version; bumped on any change of the signed structs.
pub const DOMAIN_VERSION: &str = "1";

sol! {
    /// Moves collateral from the signer to `to` on L2.
    #[derive(Debug, PartialEq, Eq)]
    struct Transfer {
        address to;
        uint128 amount;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// Requests a withdrawal of the signer's collateral to `recipient` on L1.
    #[derive(Debug, PartialEq, Eq)]
    struct Withdraw {
        address recipient;
        uint128 amount;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// Devnet faucet: creates collateral for `to`. Only the chain's operator may sign it,
    /// and only on a chain whose genesis enables the faucet.
    #[derive(Debug, PartialEq, Eq)]
    struct Mint {
        address to;
        uint128 amount;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// Moves the signer's collateral into its margin account (trading cash).
    #[derive(Debug, PartialEq, Eq)]
    struct DepositMargin {
        uint128 amount;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// Moves cash from the signer's margin account back to its collateral; with open
    /// positions, equity must still cover initial margin afterwards.
    #[derive(Debug, PartialEq, Eq)]
    struct WithdrawMargin {
        uint128 amount;
        uint64 nonce;
        uint64 expiryMs;
    }
}

/// The signing domain of one Straddle chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// L2 chain id.
    pub chain_id: u64,
    /// The L1 contract that anchors the chain (the portal); zero until one is deployed.
    pub verifying_contract: Address,
}

impl Domain {
    /// The EIP-712 domain separator, computed once per domain and thread (it is hashed
    /// into every signed message).
    pub fn separator(&self) -> B256 {
        thread_local! {
            static LAST: std::cell::Cell<Option<(Domain, B256)>> = const { std::cell::Cell::new(None) };
        }
        LAST.with(|last| match last.get() {
            Some((domain, separator)) if domain == *self => separator,
            _ => {
                let separator = self.eip712().separator();
                last.set(Some((*self, separator)));
                separator
            }
        })
    }

    /// The EIP-712 digest of a message with struct hash `struct_hash` under this domain:
    /// `keccak256(0x19 ‖ 0x01 ‖ separator ‖ struct_hash)`.
    pub fn digest(&self, struct_hash: &B256) -> B256 {
        let mut bytes = [0u8; 66];
        bytes[0] = 0x19;
        bytes[1] = 0x01;
        bytes[2..34].copy_from_slice(self.separator().as_slice());
        bytes[34..].copy_from_slice(struct_hash.as_slice());
        alloy_primitives::keccak256(bytes)
    }

    /// The alloy EIP-712 domain.
    pub fn eip712(&self) -> Eip712Domain {
        Eip712Domain::new(
            Some(Cow::Borrowed(DOMAIN_NAME)),
            Some(Cow::Borrowed(DOMAIN_VERSION)),
            Some(U256::from(self.chain_id)),
            Some(self.verifying_contract),
            None,
        )
    }
}

/// Tag byte of each action kind in the canonical encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ActionKind {
    /// [`Transfer`].
    Transfer = 1,
    /// [`Withdraw`].
    Withdraw = 2,
    /// [`Mint`].
    Mint = 3,
    /// [`DepositMargin`].
    DepositMargin = 4,
    /// [`WithdrawMargin`].
    WithdrawMargin = 5,
}

/// Any user action, before its signature is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// L2 transfer.
    Transfer(Transfer),
    /// Withdrawal request.
    Withdraw(Withdraw),
    /// Devnet faucet mint.
    Mint(Mint),
    /// Collateral into the margin account.
    DepositMargin(DepositMargin),
    /// Cash out of the margin account.
    WithdrawMargin(WithdrawMargin),
}

impl Action {
    /// The canonical tag.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Transfer(_) => ActionKind::Transfer,
            Action::Withdraw(_) => ActionKind::Withdraw,
            Action::Mint(_) => ActionKind::Mint,
            Action::DepositMargin(_) => ActionKind::DepositMargin,
            Action::WithdrawMargin(_) => ActionKind::WithdrawMargin,
        }
    }

    /// The EIP-712 primary type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Action::Transfer(_) => Transfer::NAME,
            Action::Withdraw(_) => Withdraw::NAME,
            Action::Mint(_) => Mint::NAME,
            Action::DepositMargin(_) => DepositMargin::NAME,
            Action::WithdrawMargin(_) => WithdrawMargin::NAME,
        }
    }

    /// Replay-protection nonce (see the nonce window in `docs/spec/actions.md`).
    pub fn nonce(&self) -> u64 {
        match self {
            Action::Transfer(a) => a.nonce,
            Action::Withdraw(a) => a.nonce,
            Action::Mint(a) => a.nonce,
            Action::DepositMargin(a) => a.nonce,
            Action::WithdrawMargin(a) => a.nonce,
        }
    }

    /// Last block timestamp (unix milliseconds) at which the action may execute.
    pub fn expiry_ms(&self) -> u64 {
        match self {
            Action::Transfer(a) => a.expiryMs,
            Action::Withdraw(a) => a.expiryMs,
            Action::Mint(a) => a.expiryMs,
            Action::DepositMargin(a) => a.expiryMs,
            Action::WithdrawMargin(a) => a.expiryMs,
        }
    }

    /// The EIP-712 digest the signer signs (`keccak256("\x19\x01" ‖ domainSeparator ‖ structHash)`).
    pub fn signing_hash(&self, domain: &Domain) -> B256 {
        let struct_hash = match self {
            Action::Transfer(a) => a.eip712_hash_struct(),
            Action::Withdraw(a) => a.eip712_hash_struct(),
            Action::Mint(a) => a.eip712_hash_struct(),
            Action::DepositMargin(a) => a.eip712_hash_struct(),
            Action::WithdrawMargin(a) => a.eip712_hash_struct(),
        };
        domain.digest(&struct_hash)
    }

    /// The EIP-712 type string of the primary type, e.g.
    /// `Transfer(address to,uint128 amount,uint64 nonce,uint64 expiryMs)`.
    pub fn type_string(&self) -> String {
        match self {
            Action::Transfer(_) => Transfer::eip712_encode_type().into_owned(),
            Action::Withdraw(_) => Withdraw::eip712_encode_type().into_owned(),
            Action::Mint(_) => Mint::eip712_encode_type().into_owned(),
            Action::DepositMargin(_) => DepositMargin::eip712_encode_type().into_owned(),
            Action::WithdrawMargin(_) => WithdrawMargin::eip712_encode_type().into_owned(),
        }
    }

    /// The full `eth_signTypedData_v4` document for this action, which any EIP-712 signer
    /// (a wallet, `cast wallet sign --data`, ethers, eth-account) signs to the same digest.
    pub fn typed_data_json(&self, domain: &Domain) -> serde_json::Value {
        let address_field = match self {
            Action::Transfer(a) => Some(("to", a.to)),
            Action::Withdraw(a) => Some(("recipient", a.recipient)),
            Action::Mint(a) => Some(("to", a.to)),
            Action::DepositMargin(_) | Action::WithdrawMargin(_) => None,
        };
        let json = ActionJson::from(self);
        let mut fields = Vec::with_capacity(4);
        let mut message = serde_json::Map::new();
        if let Some((name, address)) = address_field {
            fields.push(serde_json::json!({"name": name, "type": "address"}));
            message.insert(name.into(), serde_json::json!(address));
        }
        fields.push(serde_json::json!({"name": "amount", "type": "uint128"}));
        fields.push(serde_json::json!({"name": "nonce", "type": "uint64"}));
        fields.push(serde_json::json!({"name": "expiryMs", "type": "uint64"}));
        message.insert("amount".into(), json.amount().0.to_string().into());
        message.insert("nonce".into(), self.nonce().into());
        message.insert("expiryMs".into(), self.expiry_ms().into());
        serde_json::json!({
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"}
                ],
                self.type_name(): fields,
            },
            "primaryType": self.type_name(),
            "domain": {
                "name": DOMAIN_NAME,
                "version": DOMAIN_VERSION,
                "chainId": domain.chain_id,
                "verifyingContract": domain.verifying_contract,
            },
            "message": message,
        })
    }
}

/// The JSON form of an action used by the RPC API: `{"type": "transfer", ...fields}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ActionJson {
    /// See [`Transfer`].
    #[serde(rename_all = "camelCase")]
    Transfer {
        /// Recipient on L2.
        to: Address,
        /// Micro-units.
        amount: Amount,
        /// Replay-protection nonce.
        nonce: u64,
        /// Unix milliseconds.
        expiry_ms: u64,
    },
    /// See [`Withdraw`].
    #[serde(rename_all = "camelCase")]
    Withdraw {
        /// Recipient on L1.
        recipient: Address,
        /// Micro-units.
        amount: Amount,
        /// Replay-protection nonce.
        nonce: u64,
        /// Unix milliseconds.
        expiry_ms: u64,
    },
    /// See [`Mint`].
    #[serde(rename_all = "camelCase")]
    Mint {
        /// Recipient on L2.
        to: Address,
        /// Micro-units.
        amount: Amount,
        /// Replay-protection nonce.
        nonce: u64,
        /// Unix milliseconds.
        expiry_ms: u64,
    },
    /// See [`DepositMargin`].
    #[serde(rename_all = "camelCase")]
    DepositMargin {
        /// Micro-units.
        amount: Amount,
        /// Replay-protection nonce.
        nonce: u64,
        /// Unix milliseconds.
        expiry_ms: u64,
    },
    /// See [`WithdrawMargin`].
    #[serde(rename_all = "camelCase")]
    WithdrawMargin {
        /// Micro-units.
        amount: Amount,
        /// Replay-protection nonce.
        nonce: u64,
        /// Unix milliseconds.
        expiry_ms: u64,
    },
}

impl ActionJson {
    fn amount(&self) -> Amount {
        match self {
            ActionJson::Transfer { amount, .. }
            | ActionJson::Withdraw { amount, .. }
            | ActionJson::Mint { amount, .. }
            | ActionJson::DepositMargin { amount, .. }
            | ActionJson::WithdrawMargin { amount, .. } => *amount,
        }
    }
}

impl From<&Action> for ActionJson {
    fn from(action: &Action) -> Self {
        match action {
            Action::Transfer(a) => ActionJson::Transfer {
                to: a.to,
                amount: Amount(a.amount),
                nonce: a.nonce,
                expiry_ms: a.expiryMs,
            },
            Action::Withdraw(a) => ActionJson::Withdraw {
                recipient: a.recipient,
                amount: Amount(a.amount),
                nonce: a.nonce,
                expiry_ms: a.expiryMs,
            },
            Action::Mint(a) => ActionJson::Mint {
                to: a.to,
                amount: Amount(a.amount),
                nonce: a.nonce,
                expiry_ms: a.expiryMs,
            },
            Action::DepositMargin(a) => ActionJson::DepositMargin {
                amount: Amount(a.amount),
                nonce: a.nonce,
                expiry_ms: a.expiryMs,
            },
            Action::WithdrawMargin(a) => ActionJson::WithdrawMargin {
                amount: Amount(a.amount),
                nonce: a.nonce,
                expiry_ms: a.expiryMs,
            },
        }
    }
}

impl From<ActionJson> for Action {
    fn from(json: ActionJson) -> Self {
        match json {
            ActionJson::Transfer {
                to,
                amount,
                nonce,
                expiry_ms,
            } => Action::Transfer(Transfer {
                to,
                amount: amount.0,
                nonce,
                expiryMs: expiry_ms,
            }),
            ActionJson::Withdraw {
                recipient,
                amount,
                nonce,
                expiry_ms,
            } => Action::Withdraw(Withdraw {
                recipient,
                amount: amount.0,
                nonce,
                expiryMs: expiry_ms,
            }),
            ActionJson::Mint {
                to,
                amount,
                nonce,
                expiry_ms,
            } => Action::Mint(Mint {
                to,
                amount: amount.0,
                nonce,
                expiryMs: expiry_ms,
            }),
            ActionJson::DepositMargin {
                amount,
                nonce,
                expiry_ms,
            } => Action::DepositMargin(DepositMargin {
                amount: amount.0,
                nonce,
                expiryMs: expiry_ms,
            }),
            ActionJson::WithdrawMargin {
                amount,
                nonce,
                expiry_ms,
            } => Action::WithdrawMargin(WithdrawMargin {
                amount: amount.0,
                nonce,
                expiryMs: expiry_ms,
            }),
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ActionJson::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ActionJson::deserialize(deserializer).map(Action::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_strings_are_stable() {
        let t = Action::Transfer(Transfer {
            to: Address::ZERO,
            amount: 1,
            nonce: 1,
            expiryMs: 1,
        });
        assert_eq!(
            t.type_string(),
            "Transfer(address to,uint128 amount,uint64 nonce,uint64 expiryMs)"
        );
        let w = Action::Withdraw(Withdraw {
            recipient: Address::ZERO,
            amount: 1,
            nonce: 1,
            expiryMs: 1,
        });
        assert_eq!(
            w.type_string(),
            "Withdraw(address recipient,uint128 amount,uint64 nonce,uint64 expiryMs)"
        );
    }

    #[test]
    fn json_round_trip_and_unknown_fields() {
        let text = r#"{"type":"transfer","to":"0x00000000000000000000000000000000000000aa","amount":"5","nonce":1,"expiryMs":9}"#;
        let action: Action = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&action).unwrap(), text);
        let extra = text.replace("\"nonce\"", "\"evil\":1,\"nonce\"");
        assert!(serde_json::from_str::<Action>(&extra).is_err());
        let unknown = text.replace("transfer", "steal");
        assert!(serde_json::from_str::<Action>(&unknown).is_err());
    }
}
