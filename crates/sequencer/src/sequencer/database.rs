//! The database thread: commits sealed blocks in order (state leaves and chain data in
//! one redb transaction), after the log holds them, then publishes the new head.

use super::*;

pub(super) fn run_database(
    store: Arc<ChainStore>,
    blocks: Receiver<SealedBlock>,
    shared: Arc<Shared>,
) {
    while let Ok(block) = blocks.recv() {
        let started = Instant::now();
        if let Err(e) = store.commit_block(&block, None) {
            fatal("cannot commit a block", &e);
        }
        metrics::histogram!("straddle_block_commit_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("straddle_head_block").set(block.header.number as f64);
        metrics::counter!("straddle_block_transactions_total")
            .increment(block.transactions.len() as u64);
        tracing::debug!(number = block.header.number, txs = block.transactions.len(), root = %block.header.state_root, "block committed");
        let event = Arc::new(block_event(&block));
        if let Ok(mut head) = shared.committed_head.write() {
            *head = (block.header.clone(), block.hash);
        }
        shared
            .committed_number
            .store(block.header.number, Ordering::Release);
        let _ = shared.blocks.send(event);
    }
}

fn block_event(block: &SealedBlock) -> BlockEvent {
    let portfolios = block
        .changes
        .iter()
        .filter_map(|change| match StateKey::decode(&change.key) {
            Ok(StateKey::Portfolio(address)) => Some(address),
            _ => None,
        })
        .collect();
    let accounts = block
        .changes
        .iter()
        .filter_map(
            |change| match (StateKey::decode(&change.key), &change.value) {
                (Ok(StateKey::Account(address)), Some(value)) => {
                    straddle_exchange::ledger::decode_account(value)
                        .ok()
                        .map(|account| (address, account))
                }
                _ => None,
            },
        )
        .collect();
    BlockEvent {
        header: block.header.clone(),
        hash: block.hash,
        transactions: block.transactions.iter().map(|tx| tx.hash).collect(),
        accounts,
        portfolios,
    }
}
