//! Opening one transaction of a posted batch on L1 (`BatchOpener.sol`,
//! `docs/spec/disputes.md` §5): the proof that a transaction is what the batch the inbox
//! committed to says. A calldata batch is opened whole (its keccak is the commitment); a
//! blob batch only at the field elements that hold the bytes the transaction's decoding
//! reads, each with a KZG proof for the point-evaluation precompile.

use crate::blobs::{PAYLOAD_BYTES_PER_ELEMENT, c_kzg_blob, verification_settings};
use crate::{L1Client, L1Error};
use alloy::eips::eip4844::c_kzg;
use alloy::eips::eip4844::{Blob, FIELD_ELEMENTS_PER_BLOB};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolConstructor};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
pub use straddle_l1_contracts::BatchOpener;

pub use straddle_l1_contracts::BatchOpener::Opened;

/// The BLS12-381 scalar field modulus.
const BLS_MODULUS: U256 = U256::from_be_bytes(alloy::primitives::hex!(
    "73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001"
));
/// The primitive 4 096th root of unity of EIP-4844 (`7^((r − 1) / 4096) mod r`).
const ROOT_OF_UNITY: U256 = U256::from_be_bytes(alloy::primitives::hex!(
    "564c0a11a0f704f4fc3e8acfe0f8245f0ad1347b378fbf96e206da11a5d36306"
));
/// The packed stream of a blob batch starts with the batch length (4 bytes).
const LENGTH_BYTES: usize = 4;
/// One opening in `BatchOpener.openBlobs`: element u32 ‖ value 32 ‖ commitment 48 ‖
/// proof 48.
pub const OPENING_BYTES: usize = 132;

/// How a transaction's batch bytes are opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchOpening {
    /// The whole calldata batch.
    Calldata(Bytes),
    /// The blob field elements, as `BatchOpener.openBlobs` reads them ([`blob_openings`]).
    Blobs(Bytes),
}

/// The point a blob's field element `i` is the value at: `ω^bitreverse₁₂(i)`.
pub fn evaluation_point(element: usize) -> U256 {
    let bits = FIELD_ELEMENTS_PER_BLOB.trailing_zeros();
    let reversed = (element as u64).reverse_bits() >> (64 - bits);
    ROOT_OF_UNITY.pow_mod(U256::from(reversed), BLS_MODULUS)
}

/// Opens field elements of one blob batch: the `openings` argument of
/// `BatchOpener.openBlobs`. KZG proofs are the cost (one multi-scalar multiplication over
/// the blob per element, tens of milliseconds): each element's proof is computed once and
/// kept, since every transaction of a batch needs the header's elements again. Use it
/// off the async workers.
pub struct BlobOpener {
    blobs: Vec<Blob>,
    commitments: Vec<[u8; 48]>,
    /// Element → its value and KZG proof.
    proven: BTreeMap<usize, ([u8; 32], [u8; 48])>,
}

impl BlobOpener {
    /// An opener of the batch packed in `blobs` (in order).
    pub fn new(blobs: Vec<Blob>) -> Result<BlobOpener, L1Error> {
        let settings = verification_settings();
        let commitments = blobs
            .iter()
            .map(|blob| {
                settings
                    .blob_to_kzg_commitment(&c_kzg_blob(blob)?)
                    .map(|c| *c.to_bytes().as_ref())
                    .map_err(|e| L1Error::Blob(format!("KZG commitment: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(BlobOpener {
            blobs,
            commitments,
            proven: BTreeMap::new(),
        })
    }

    /// The elements holding batch bytes `ranges`, and element 0 (the length), each
    /// with its commitment and proof.
    pub fn openings(&mut self, ranges: &[Range<usize>]) -> Result<Bytes, L1Error> {
        let mut elements = BTreeSet::from([0usize]);
        for range in ranges.iter().filter(|r| !r.is_empty()) {
            let first = (range.start + LENGTH_BYTES) / PAYLOAD_BYTES_PER_ELEMENT;
            let last = (range.end - 1 + LENGTH_BYTES) / PAYLOAD_BYTES_PER_ELEMENT;
            elements.extend(first..=last);
        }
        self.element_openings(elements)
    }

    /// Field elements `elements` (element 0, the length, added), each with its
    /// commitment and proof.
    pub fn element_openings(&mut self, mut elements: BTreeSet<usize>) -> Result<Bytes, L1Error> {
        elements.insert(0);
        let count = u16::try_from(elements.len())
            .map_err(|_| L1Error::Blob(format!("{} elements to open", elements.len())))?;
        let mut out = Vec::with_capacity(2 + elements.len() * OPENING_BYTES);
        out.extend_from_slice(&count.to_be_bytes());
        for element in elements {
            let (value, proof) = self.proven(element)?;
            let per_blob = FIELD_ELEMENTS_PER_BLOB as usize;
            out.extend_from_slice(&u32::try_from(element).unwrap_or(u32::MAX).to_be_bytes());
            out.extend_from_slice(&value);
            out.extend_from_slice(&self.commitments[element / per_blob]);
            out.extend_from_slice(&proof);
        }
        Ok(out.into())
    }

    /// Element `element`'s value and proof, computed once.
    fn proven(&mut self, element: usize) -> Result<([u8; 32], [u8; 48]), L1Error> {
        if let Some(known) = self.proven.get(&element) {
            return Ok(*known);
        }
        let per_blob = FIELD_ELEMENTS_PER_BLOB as usize;
        let (blob_index, within) = (element / per_blob, element % per_blob);
        let blob = self.blobs.get(blob_index).ok_or_else(|| {
            L1Error::Blob(format!(
                "byte range beyond the batch's {} blobs",
                self.blobs.len()
            ))
        })?;
        let z = c_kzg::Bytes32::new(evaluation_point(within).to_be_bytes());
        let (proof, y) = verification_settings()
            .compute_kzg_proof(&c_kzg_blob(blob)?, &z)
            .map_err(|e| L1Error::Blob(format!("KZG proof: {e}")))?;
        let value = &blob[within * 32..within * 32 + 32];
        if y.as_slice() != value {
            return Err(L1Error::Blob(format!(
                "element {element} evaluates to another value than it holds"
            )));
        }
        let mut whole = [0u8; 32];
        whole.copy_from_slice(value);
        let known = (whole, *proof.to_bytes().as_ref());
        self.proven.insert(element, known);
        Ok(known)
    }
}

/// The `depositRecord` argument of the opener: `from ‖ recipient ‖ amount u128`.
pub fn deposit_record(from: Address, recipient: Address, amount: u128) -> Bytes {
    [from.as_slice(), recipient.as_slice(), &amount.to_be_bytes()]
        .concat()
        .into()
}

impl L1Client {
    /// Deploys the batch opener for the chain's inbox, Portal and signing domain.
    pub async fn deploy_batch_opener(
        &self,
        inbox: Address,
        portal: Address,
        chain_id: u64,
        verifying_contract: Address,
    ) -> Result<Address, L1Error> {
        let args = BatchOpener::constructorCall {
            inbox_: inbox,
            portal_: portal,
            chainId: chain_id,
            verifyingContract: verifying_contract,
        }
        .abi_encode();
        let (address, _) = self
            .deploy_code(&BatchOpener::BYTECODE, &args, "deploy BatchOpener")
            .await?;
        Ok(address)
    }

    /// What batch `index` says transaction `position` of block `block` is, proven on L1
    /// by the opener at `opener` (an `eth_call`); `deposit`: the Portal record's
    /// [`deposit_record`] when the transaction is a deposit, else empty.
    pub async fn open_transaction(
        &self,
        opener: Address,
        index: u64,
        block: u64,
        position: u32,
        opening: &BatchOpening,
        deposit: Bytes,
    ) -> Result<Opened, L1Error> {
        let request = self.open_request(opener, index, block, position, opening, deposit);
        let output = self.provider.call(request).await.map_err(L1Error::rpc)?;
        // Both openers return `Opened`.
        BatchOpener::openCalldataCall::abi_decode_returns(&output)
            .map_err(|e| L1Error::Decode(e.to_string()))
    }

    /// Gas of a transaction making the call of [`L1Client::open_transaction`]
    /// (`eth_estimateGas`: the execution, the 21 000 base and the calldata).
    pub async fn open_transaction_gas(
        &self,
        opener: Address,
        index: u64,
        block: u64,
        position: u32,
        opening: &BatchOpening,
        deposit: Bytes,
    ) -> Result<u64, L1Error> {
        let request = self.open_request(opener, index, block, position, opening, deposit);
        self.provider
            .estimate_gas(request)
            .await
            .map_err(L1Error::rpc)
    }

    /// A request calling `BatchOpener.openCalldata` or `openBlobs`, as `opening` is.
    fn open_request(
        &self,
        opener: Address,
        index: u64,
        block: u64,
        position: u32,
        opening: &BatchOpening,
        deposit: Bytes,
    ) -> TransactionRequest {
        let (index, position) = (U256::from(index), U256::from(position));
        let input: Bytes = match opening {
            BatchOpening::Calldata(batch) => BatchOpener::openCalldataCall {
                index,
                blockNumber: block,
                position,
                batch: batch.clone(),
                depositRecord: deposit,
            }
            .abi_encode()
            .into(),
            BatchOpening::Blobs(openings) => BatchOpener::openBlobsCall {
                index,
                blockNumber: block,
                position,
                openings: openings.clone(),
                depositRecord: deposit,
            }
            .abi_encode()
            .into(),
        };
        TransactionRequest::default()
            .with_from(self.signer)
            .with_to(opener)
            .with_input(input)
    }
}
