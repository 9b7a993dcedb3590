//! The cost of admitting one signed action, in its parts: the EIP-712 digest, secp256k1
//! public-key recovery (libsecp256k1, which the node uses, and alloy's pure-Rust k256 for
//! comparison), and the whole `SignedAction::verify` (low-s check + digest +
//! recovery). Recovery is the ceiling every end-to-end throughput figure is compared with.

use alloy_primitives::{Address, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use straddle_primitives::{Action, Domain, SignedAction, Transfer, recover_signer};

fn signed_transfer() -> (SignedAction, Domain) {
    let key = PrivateKeySigner::from_bytes(&U256::from(12345u64).into()).unwrap();
    let domain = Domain {
        chain_id: 424242,
        verifying_contract: Address::ZERO,
    };
    let action = Action::Transfer(Transfer {
        to: Address::repeat_byte(7),
        amount: 1_500_000,
        nonce: 42,
        expiryMs: 1_900_000_000_000,
    });
    let signature = key.sign_hash_sync(&action.signing_hash(&domain)).unwrap();
    (SignedAction { action, signature }, domain)
}

fn signatures(c: &mut Criterion) {
    let (signed, domain) = signed_transfer();
    let digest = signed.action.signing_hash(&domain);
    let mut group = c.benchmark_group("admission");
    group.throughput(Throughput::Elements(1));
    group.bench_function("eip712_digest", |b| {
        b.iter(|| black_box(&signed.action).signing_hash(black_box(&domain)))
    });
    group.bench_function("recover_k256_pure_rust", |b| {
        b.iter(|| black_box(&signed.signature).recover_address_from_prehash(black_box(&digest)))
    });
    group.bench_function("recover_libsecp256k1", |b| {
        b.iter(|| recover_signer(black_box(&signed.signature), black_box(&digest)))
    });
    group.bench_function("verify_signed_action", |b| {
        b.iter(|| black_box(signed.clone()).verify(black_box(&domain)))
    });
    group.bench_function("decode_signed_action", |b| {
        let bytes = signed.encode();
        b.iter(|| SignedAction::decode(black_box(&bytes)))
    });
    group.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
