//! The sealer thread: commits each closed block's leaf changes to the Merkle tree,
//! computes its header, and serves proofs against the sealed head.

use super::*;

/// Lowers the calling thread's scheduling priority (Linux nice value
/// [`BACKGROUND_NICE`]). Sealing and database commits are off the acknowledgement path;
/// when the cores are busy they should yield to admission, the log and the RPC workers,
/// whose delays are what a trader sees. Their bounded queues still hold them back from
/// falling behind for long: a full queue stalls admission, which frees the cores.
pub(super) fn run_in_background() {
    // SAFETY: `setpriority` with `PRIO_PROCESS` and a thread id only changes that
    // thread's nice value; failure (not permitted, other platforms) leaves it unchanged.
    #[cfg(target_os = "linux")]
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE) != 0 {
            tracing::debug!("could not lower the priority of a background thread");
        }
    }
}

/// Seals closed blocks in order and hands them to the log (after the records of their
/// transactions, which admission sent before closing the block); serves proofs.
pub(super) fn run_sealer(mut tip: Tip, items: Receiver<SealItem>, log: SyncSender<LogItem>) {
    while let Ok(item) = items.recv() {
        match item {
            SealItem::Block(closed) => {
                let started = Instant::now();
                let sealed = tip.seal(*closed);
                metrics::histogram!("straddle_block_seal_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::counter!("straddle_blocks_sealed_total").increment(1);
                if log.send(LogItem::Seal(Box::new(sealed))).is_err() {
                    fatal("log thread stopped", &"channel closed");
                }
            }
            SealItem::Proof { key, value, reply } => {
                let proof = tip.tree.prove(&straddle_state::key_hash(&key));
                let _ = reply.send(ProofSnapshot {
                    block_number: tip.head.number,
                    state_root: tip.head.state_root,
                    key,
                    value,
                    proof,
                });
            }
        }
    }
}
