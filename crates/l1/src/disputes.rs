//! The dispute game's L1 side: the one-step prover's witness encoding and calls into the
//! `StepProver` contract (`docs/spec/disputes.md` §4).

use crate::{L1Client, L1Error};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use straddle_l1_contracts::{OracleStepProver, StepProver};

alloy::sol! {
    /// Where a leaf's proof ends (`StateProof.Terminal`).
    #[derive(Debug, PartialEq, Eq)]
    struct StepTerminal {
        bool isLeaf;
        bytes32 keyHash;
        bytes32 valueHash;
    }

    /// The preimage of a tree node (`StateProof.Preimage`): a leaf `(keyHash,
    /// valueHash)` when `isLeaf`, else an internal node `(left, right)`.
    #[derive(Debug, PartialEq, Eq)]
    struct StepPreimage {
        bool isLeaf;
        bytes32 a;
        bytes32 b;
    }

    /// One leaf a transaction reads, with its value and proof (`StepProver.Leaf`); a
    /// leaf the transaction removes also carries its last sibling's preimage
    /// (`hasSibling`).
    #[derive(Debug, PartialEq, Eq)]
    struct StepLeaf {
        bool present;
        bytes value;
        bytes32[] siblings;
        StepTerminal terminal;
        bool hasSibling;
        StepPreimage sibling;
    }
}

/// The `witness` argument of `StepProver.execute`, packed as `StepProver.leavesOf`
/// reads it: `count u16 ‖ leaf × count`, a leaf being `flags u8 (1: present, 2: the proof
/// ends in a leaf, 4: the last sibling's preimage follows) ‖ valueLength u16 ‖ value ‖
/// (terminal keyHash ‖ valueHash, when flag 2) ‖ (preimage isLeaf u8 ‖ a ‖ b, when flag
/// 4) ‖ siblingCount u16 ‖ sibling × siblingCount`; empty for no leaves.
pub fn encode_step_witness(leaves: Vec<StepLeaf>) -> Bytes {
    if leaves.is_empty() {
        return Bytes::new();
    }
    // A match of 16 makers whose portfolios hold 32 positions each reads the most: up to
    // 16 · 32 + 31 market, 17 record, 17 portfolio and 2 more leaves, far below 65 535.
    let count = u16::try_from(leaves.len()).expect("at most 65 535 leaves per transaction");
    let mut out = count.to_be_bytes().to_vec();
    for leaf in leaves {
        let flags = u8::from(leaf.present)
            | (u8::from(leaf.terminal.isLeaf) << 1)
            | (u8::from(leaf.hasSibling) << 2);
        out.push(flags);
        let length = u16::try_from(leaf.value.len()).expect("a leaf value fits 64 KiB");
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&leaf.value);
        if leaf.terminal.isLeaf {
            out.extend_from_slice(leaf.terminal.keyHash.as_slice());
            out.extend_from_slice(leaf.terminal.valueHash.as_slice());
        }
        if leaf.hasSibling {
            out.push(u8::from(leaf.sibling.isLeaf));
            out.extend_from_slice(leaf.sibling.a.as_slice());
            out.extend_from_slice(leaf.sibling.b.as_slice());
        }
        let siblings = u16::try_from(leaf.siblings.len()).expect("at most 256 siblings");
        out.extend_from_slice(&siblings.to_be_bytes());
        for sibling in &leaf.siblings {
            out.extend_from_slice(sibling.as_slice());
        }
    }
    out.into()
}

/// One transaction for the one-step prover, with the state root before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepInput {
    /// State root before the transaction.
    pub pre_root: B256,
    /// The L2 block it is in.
    pub block_number: u64,
    /// That block's time, unix milliseconds.
    pub timestamp_ms: u64,
    /// The transaction's canonical bytes.
    pub transaction: Bytes,
    /// [`encode_step_witness`] of the leaves it reads.
    pub witness: Bytes,
}

impl StepInput {
    /// The calldata of `StepProver.execute` on this input (for tracing tools).
    pub fn calldata(&self) -> Bytes {
        self.call().abi_encode().into()
    }

    fn call(&self) -> StepProver::executeCall {
        StepProver::executeCall {
            preRoot: self.pre_root,
            blockNumber: self.block_number,
            timestampMs: self.timestamp_ms,
            transaction: self.transaction.clone(),
            witness: self.witness.clone(),
        }
    }
}

/// One sub-step of an oracle update for `OracleStepProver.subStep`
/// (`docs/spec/disputes.md` §4.1), with the state root before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubStepInput {
    /// State root before the sub-step.
    pub pre_root: B256,
    /// The block's time, unix milliseconds.
    pub timestamp_ms: u64,
    /// The transaction's canonical bytes.
    pub transaction: Bytes,
    /// Which sub-step, from 1.
    pub index: u64,
    /// How many the transaction takes.
    pub count: u64,
    /// [`encode_step_witness`] of the leaves it reads.
    pub witness: Bytes,
}

impl SubStepInput {
    /// The calldata of `OracleStepProver.subStep` on this input (for tracing tools).
    pub fn calldata(&self) -> Bytes {
        self.call().abi_encode().into()
    }

    fn call(&self) -> OracleStepProver::subStepCall {
        OracleStepProver::subStepCall {
            preRoot: self.pre_root,
            timestampMs: self.timestamp_ms,
            transaction: self.transaction.clone(),
            index: alloy::primitives::U256::from(self.index),
            count: alloy::primitives::U256::from(self.count),
            witness: self.witness.clone(),
        }
    }
}

impl L1Client {
    /// How many sub-steps `transaction` takes on the state `pre_root`, given the
    /// underlying's leaf (`witness`).
    pub async fn oracle_sub_step_count(
        &self,
        prover: Address,
        pre_root: B256,
        transaction: Bytes,
        witness: Bytes,
    ) -> Result<u64, L1Error> {
        let call = OracleStepProver::subStepCountCall {
            preRoot: pre_root,
            transaction,
            witness,
        };
        let count = self.view(prover, &call).await?;
        u64::try_from(count).map_err(|_| L1Error::Decode(format!("{count} sub-steps")))
    }

    /// Runs one oracle-update sub-step through `prover` (an `eth_call`): the root after it.
    pub async fn oracle_sub_step(
        &self,
        prover: Address,
        input: &SubStepInput,
    ) -> Result<B256, L1Error> {
        self.view(prover, &input.call()).await
    }

    /// Gas a transaction calling `OracleStepProver.subStep` on `input` uses.
    pub async fn oracle_sub_step_gas(
        &self,
        prover: Address,
        input: &SubStepInput,
    ) -> Result<u64, L1Error> {
        self.call_gas(prover, input.calldata()).await
    }

    /// Gas a transaction to `to` with `calldata` uses (`eth_estimateGas`: the execution,
    /// the 21 000 base and the calldata).
    pub async fn call_gas(&self, to: Address, calldata: Bytes) -> Result<u64, L1Error> {
        let request = TransactionRequest::default()
            .with_from(self.signer)
            .with_to(to)
            .with_input(calldata);
        self.provider
            .estimate_gas(request)
            .await
            .map_err(L1Error::rpc)
    }

    /// The chain's next forced index in the state `root`, as the prover at `prover`
    /// (a `StepProver`) reads it from the queue leaf's `witness` (an `eth_call`).
    pub async fn forced_queue_count(
        &self,
        prover: Address,
        root: B256,
        witness: Bytes,
    ) -> Result<u64, L1Error> {
        let call = StepProver::forcedQueueCountCall { root, witness };
        self.view(prover, &call).await
    }

    /// Gas a transaction calling `StepProver.forcedQueueCount` on `root` and `witness`
    /// uses (`eth_estimateGas`: the execution, the 21 000 base and the calldata).
    pub async fn forced_queue_count_gas(
        &self,
        prover: Address,
        root: B256,
        witness: Bytes,
    ) -> Result<u64, L1Error> {
        let call = StepProver::forcedQueueCountCall { root, witness };
        self.call_gas(prover, call.abi_encode().into()).await
    }

    /// Runs `input` through the prover at `prover` (an `eth_call`): the post-state root.
    pub async fn execute_step(&self, prover: Address, input: &StepInput) -> Result<B256, L1Error> {
        self.view(prover, &input.call()).await
    }

    /// Gas a transaction calling `StepProver.execute` on `input` uses
    /// (`eth_estimateGas`: the execution, the 21 000 base and the calldata).
    pub async fn step_gas(&self, prover: Address, input: &StepInput) -> Result<u64, L1Error> {
        self.call_gas(prover, input.calldata()).await
    }
}
