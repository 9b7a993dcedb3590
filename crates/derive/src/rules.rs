//! The one set of rules for where a derived block may come from and how it must link
//! (`docs/spec/batches.md` §6, `docs/spec/disputes.md` §5.3): a batch *links* after a
//! parent block when its first block is the parent's successor, it names the parent's
//! hash, and no block's time is earlier than the one before it, starting from the
//! parent's. Derivation skips a batch that does not link, the sequencer refuses to import
//! a block that does not follow its head, and the challenger disputes a revealed block
//! that its source batch does not describe. `SourceRules.sol` mirrors
//! [`description_links`] on L1; `tests/source_rules_parity.rs` compares them on the same
//! batches.

use alloy_primitives::B256;
use straddle_batch::BlockDescription;

/// The block a batch or block must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent {
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: B256,
    /// Its time, unix ms.
    pub timestamp_ms: u64,
}

/// Why a batch or block does not link after its parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkFault {
    /// It does not start at the parent's successor.
    #[error("starts at block {first} but the chain's next block is {next}")]
    Gap {
        /// Its first block.
        first: u64,
        /// The parent's successor.
        next: u64,
    },
    /// It names another parent.
    #[error("its parent hash {named} is not the chain's block {number} ({chain})")]
    Fork {
        /// The parent's number.
        number: u64,
        /// The hash it names.
        named: B256,
        /// The parent's hash.
        chain: B256,
    },
    /// A block's time is earlier than the block before it.
    #[error("block {number} runs back in time")]
    TimeBack {
        /// The block.
        number: u64,
    },
}

/// Whether a batch whose first block is `first_block`, naming `parent_hash`, with block
/// times `times` in order, links after `parent`.
pub fn batch_links(
    parent: &Parent,
    first_block: u64,
    parent_hash: B256,
    times: impl IntoIterator<Item = u64>,
) -> Result<(), LinkFault> {
    if first_block != parent.number + 1 {
        return Err(LinkFault::Gap {
            first: first_block,
            next: parent.number + 1,
        });
    }
    if parent_hash != parent.hash {
        return Err(LinkFault::Fork {
            number: parent.number,
            named: parent_hash,
            chain: parent.hash,
        });
    }
    let mut previous = (parent.number, parent.timestamp_ms);
    for time in times {
        block_follows(previous, previous.0 + 1, time)?;
        previous = (previous.0 + 1, time);
    }
    Ok(())
}

/// Whether block `number` at `timestamp_ms` may follow the block `parent` =
/// `(number, time)`: the next number, and not earlier (the hash link is the batch's,
/// checked by [`batch_links`]).
pub fn block_follows(parent: (u64, u64), number: u64, timestamp_ms: u64) -> Result<(), LinkFault> {
    let (parent_number, parent_time) = parent;
    if number != parent_number + 1 {
        return Err(LinkFault::Gap {
            first: number,
            next: parent_number + 1,
        });
    }
    if timestamp_ms < parent_time {
        return Err(LinkFault::TimeBack { number });
    }
    Ok(())
}

/// [`batch_links`] read from a batch's description of block `parent.number + 1`
/// (`straddle_batch::describe_block`): what `SourceRules.candidate` decides on L1 for a
/// batch position after the parent's.
pub fn description_links(described: &BlockDescription, parent: &Parent) -> bool {
    described.block.is_some()
        && described.first_block == parent.number + 1
        && described.parent_hash == parent.hash
        && described.first_timestamp_ms >= parent.timestamp_ms
        && described.ordered
}

/// Whether a batch's description of block `number` contradicts the block as revealed
/// (`timestamp_ms`, `count` transactions, parent hash `parent_hash`): the batch does not
/// carry it, gives it another time or count, or starts with it but names another parent.
/// A batch whose structure does not read (`described` is an error) contradicts every
/// block.
pub fn contradicts_revealed<E>(
    described: &Result<BlockDescription, E>,
    number: u64,
    timestamp_ms: u64,
    count: u32,
    parent_hash: B256,
) -> bool {
    let Ok(described) = described else {
        return true;
    };
    match described.block {
        None => true,
        Some((time, transactions)) => {
            time != timestamp_ms
                || transactions != count as usize
                || (described.first_block == number && described.parent_hash != parent_hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parent() -> Parent {
        Parent {
            number: 4,
            hash: B256::repeat_byte(4),
            timestamp_ms: 4_000,
        }
    }

    #[test]
    fn a_batch_links_only_at_the_parents_successor_with_its_hash_and_times_in_order() {
        let p = parent();
        assert_eq!(batch_links(&p, 5, p.hash, [4_000, 4_000, 5_000]), Ok(()));
        assert_eq!(
            batch_links(&p, 6, p.hash, [5_000]),
            Err(LinkFault::Gap { first: 6, next: 5 })
        );
        assert_eq!(
            batch_links(&p, 5, B256::ZERO, [5_000]),
            Err(LinkFault::Fork {
                number: 4,
                named: B256::ZERO,
                chain: p.hash
            })
        );
        assert_eq!(
            batch_links(&p, 5, p.hash, [3_999]),
            Err(LinkFault::TimeBack { number: 5 })
        );
        assert_eq!(
            batch_links(&p, 5, p.hash, [5_000, 6_000, 5_999]),
            Err(LinkFault::TimeBack { number: 7 })
        );
    }

    #[test]
    fn a_block_follows_the_head_at_the_next_number_not_earlier() {
        assert_eq!(block_follows((4, 4_000), 5, 4_000), Ok(()));
        assert_eq!(
            block_follows((4, 4_000), 5, 3_999),
            Err(LinkFault::TimeBack { number: 5 })
        );
        assert_eq!(
            block_follows((4, 4_000), 7, 5_000),
            Err(LinkFault::Gap { first: 7, next: 5 })
        );
    }

    proptest! {
        /// The rule over a decoded batch and the rule over its description (what L1
        /// reads) agree on every batch that carries the parent's successor.
        #[test]
        fn the_description_decides_as_the_whole_batch_does(
            first in 4u64..7,
            named_parent in any::<bool>(),
            first_time in 3_000u64..5_000,
            deltas in proptest::collection::vec(-1_000i64..1_000, 0..5),
        ) {
            let p = parent();
            let mut times = vec![first_time];
            for delta in &deltas {
                let last = *times.last().unwrap_or(&first_time);
                times.push(last.saturating_add_signed(*delta));
            }
            let parent_hash = if named_parent { p.hash } else { B256::ZERO };
            let last_block = first + times.len() as u64 - 1;
            let carried = (first..=last_block).contains(&(p.number + 1));
            let described = BlockDescription {
                first_block: first,
                last_block,
                parent_hash,
                block: carried.then(|| (times[(p.number + 1 - first) as usize], 0)),
                first_timestamp_ms: first_time,
                ordered: times.windows(2).all(|pair| pair[1] >= pair[0]),
                header: 0..0,
            };
            prop_assert_eq!(
                description_links(&described, &p),
                batch_links(&p, first, parent_hash, times.iter().copied()).is_ok()
            );
        }
    }
}
