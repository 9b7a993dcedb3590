//! The log thread: writes each group of framed records with one fsync, then releases
//! the receipts of that group (no receipt leaves before its transaction is on disk).

use super::*;

pub(super) fn run_log(
    mut wal: WalWriter,
    items: Receiver<LogItem>,
    db: SyncSender<SealedBlock>,
    shared: Arc<Shared>,
) {
    let mut seals = Vec::new();
    let mut bytes = Vec::new();
    let mut acks = Vec::new();
    let mut events = Vec::new();
    while let Ok(first) = items.recv() {
        // Group every item already queued behind the first into one write and one fsync.
        for item in std::iter::once(first).chain(items.try_iter().take(LOG_QUEUE_MAX)) {
            match item {
                LogItem::Records {
                    bytes: framed,
                    acks: group,
                    events: published,
                } => {
                    if bytes.is_empty()
                        && !framed.is_empty()
                        && let Err(e) = wal.maybe_rotate(first_block_of(&group, &shared))
                    {
                        fatal("cannot rotate the write-ahead log", &e);
                    }
                    bytes.extend_from_slice(&framed);
                    acks.extend(group);
                    events.extend(published);
                }
                LogItem::Seal(block) => {
                    // A seal must not overtake the records of its own block.
                    sync_group(&mut wal, &mut bytes, &mut acks, &mut events, &shared);
                    seals.push(*block);
                }
            }
        }
        sync_group(&mut wal, &mut bytes, &mut acks, &mut events, &shared);
        for block in seals.drain(..) {
            if db.send(block).is_err() {
                fatal("database thread stopped", &"channel closed");
            }
        }
        if let Err(e) = wal.prune(shared.committed_number.load(Ordering::Acquire)) {
            tracing::warn!(error = %e, "could not delete an old log segment");
        }
    }
}

fn first_block_of(group: &[Waiting], shared: &Shared) -> u64 {
    group.first().map_or(
        shared.committed_number.load(Ordering::Acquire) + 1,
        |waiting| waiting.block_number,
    )
}

/// Writes and syncs the group, then releases its replies and publishes its market
/// events: nothing is acknowledged or shown before it is on disk.
fn sync_group(
    wal: &mut WalWriter,
    bytes: &mut Vec<u8>,
    acks: &mut Vec<Waiting>,
    events: &mut Vec<MarketEvent>,
    shared: &Shared,
) {
    if !bytes.is_empty() {
        let started = Instant::now();
        if let Err(e) = wal.append_and_sync(bytes) {
            fatal("cannot write the write-ahead log", &e);
        }
        metrics::histogram!("straddle_wal_fsync_seconds").record(started.elapsed().as_secs_f64());
        bytes.clear();
    }
    metrics::counter!("straddle_tx_accepted_total").increment(acks.len() as u64);
    for waiting in acks.drain(..) {
        waiting.release();
    }
    if !events.is_empty() {
        let _ = shared.market.send(Arc::new(std::mem::take(events)));
    }
}
