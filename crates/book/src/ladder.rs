//! One side of a book: a dense array of price levels over a sliding window of prices,
//! with a two-level occupancy bitmap so the next non-empty level is a few word scans
//! away, and the best level cached.

/// "No slot": the end of a queue.
pub(crate) const NIL: u32 = u32::MAX;

/// Levels one side may span, from its lowest to its highest price (ticks). Wider quotes
/// are refused with [`crate::Reject::PriceOutOfRange`]; 2^20 levels take 24 MiB.
pub const LADDER_SPAN_MAX: u64 = 1 << 20;

/// Levels allocated when a side receives its first order.
const INITIAL_LEVELS: u64 = 1_024;

/// The orders resting at one price, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Level {
    pub head: u32,
    pub tail: u32,
    pub qty: u64,
    pub count: u32,
}

impl Default for Level {
    fn default() -> Level {
        Level {
            head: NIL,
            tail: NIL,
            qty: 0,
            count: 0,
        }
    }
}

/// A side's price levels. Indices are `price − base`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ladder {
    /// True for bids (best = highest price).
    is_bid: bool,
    base: u64,
    levels: Vec<Level>,
    /// Bit `i % 64` of `words[i / 64]`: level `i` holds orders.
    words: Vec<u64>,
    /// Bit `w % 64` of `summary[w / 64]`: `words[w] != 0`.
    summary: Vec<u64>,
    best: Option<usize>,
}

impl Ladder {
    pub fn new(is_bid: bool) -> Ladder {
        Ladder {
            is_bid,
            ..Ladder::default()
        }
    }

    pub fn price_of(&self, index: usize) -> u64 {
        self.base + index as u64
    }

    pub fn index_of(&self, price: u64) -> Option<usize> {
        let offset = price.checked_sub(self.base)?;
        (offset < self.levels.len() as u64).then_some(offset as usize)
    }

    pub fn level(&self, index: usize) -> &Level {
        &self.levels[index]
    }

    pub fn level_mut(&mut self, index: usize) -> &mut Level {
        &mut self.levels[index]
    }

    /// The best non-empty level's index.
    pub fn best(&self) -> Option<usize> {
        self.best
    }

    /// The index of `price`, growing the window if needed; `None` when the side would
    /// span more than [`LADDER_SPAN_MAX`] levels.
    pub fn ensure(&mut self, price: u64) -> Option<usize> {
        if let Some(index) = self.index_of(price) {
            return Some(index);
        }
        let len = self.levels.len() as u64;
        let (base, new_len) = if len == 0 {
            (
                price.saturating_sub(INITIAL_LEVELS / 2).max(1),
                INITIAL_LEVELS,
            )
        } else {
            let low = self.base.min(price);
            let high = (self.base + len - 1).max(price);
            let span = high - low + 1;
            if span > LADDER_SPAN_MAX {
                return None;
            }
            let new_len = (span * 2).min(LADDER_SPAN_MAX).next_multiple_of(64);
            if price < self.base {
                // Growing down: keep slack below the new price.
                ((high + 1).saturating_sub(new_len).max(1), new_len)
            } else {
                (low, new_len)
            }
        };
        self.rebase(base, new_len as usize);
        self.index_of(price)
    }

    fn rebase(&mut self, base: u64, len: usize) {
        let len = len.next_multiple_of(64);
        let mut levels = vec![Level::default(); len];
        for (i, level) in self.levels.iter().enumerate() {
            if level.count > 0 {
                levels[(self.base + i as u64 - base) as usize] = *level;
            }
        }
        self.base = base;
        self.levels = levels;
        self.words = vec![0; len / 64];
        self.summary = vec![0; (len / 64).div_ceil(64)];
        self.best = None;
        for i in 0..len {
            if self.levels[i].count > 0 {
                self.mark_occupied(i);
            }
        }
    }

    /// Records that level `index` now holds orders.
    pub fn mark_occupied(&mut self, index: usize) {
        let w = index / 64;
        self.words[w] |= 1 << (index % 64);
        self.summary[w / 64] |= 1 << (w % 64);
        let better = match self.best {
            None => true,
            Some(best) => (self.is_bid && index > best) || (!self.is_bid && index < best),
        };
        if better {
            self.best = Some(index);
        }
    }

    /// Records that level `index` is now empty.
    pub fn mark_empty(&mut self, index: usize) {
        let w = index / 64;
        self.words[w] &= !(1 << (index % 64));
        if self.words[w] == 0 {
            self.summary[w / 64] &= !(1 << (w % 64));
        }
        if self.best == Some(index) {
            self.best = if self.is_bid {
                self.highest_at_or_below(index)
            } else {
                self.lowest_at_or_above(index)
            };
        }
    }

    /// The next non-empty level after `index` in priority order (worse price).
    pub fn next_worse(&self, index: usize) -> Option<usize> {
        if self.is_bid {
            index
                .checked_sub(1)
                .and_then(|i| self.highest_at_or_below(i))
        } else {
            self.lowest_at_or_above(index + 1)
        }
    }

    fn highest_at_or_below(&self, index: usize) -> Option<usize> {
        if self.words.is_empty() {
            return None;
        }
        let index = index.min(self.levels.len() - 1);
        let w = index / 64;
        let bits = index % 64;
        let mask = if bits == 63 {
            u64::MAX
        } else {
            (1u64 << (bits + 1)) - 1
        };
        let m = self.words[w] & mask;
        if m != 0 {
            return Some(w * 64 + 63 - m.leading_zeros() as usize);
        }
        // Words strictly below `w`.
        let (s, sbits) = (w / 64, w % 64);
        let below = self.summary[s] & ((1u64 << sbits) - 1);
        let found = if below != 0 {
            Some(s * 64 + 63 - below.leading_zeros() as usize)
        } else {
            (0..s)
                .rev()
                .find(|&t| self.summary[t] != 0)
                .map(|t| t * 64 + 63 - self.summary[t].leading_zeros() as usize)
        }?;
        Some(found * 64 + 63 - self.words[found].leading_zeros() as usize)
    }

    fn lowest_at_or_above(&self, index: usize) -> Option<usize> {
        if index >= self.levels.len() {
            return None;
        }
        let w = index / 64;
        let m = self.words[w] & (u64::MAX << (index % 64));
        if m != 0 {
            return Some(w * 64 + m.trailing_zeros() as usize);
        }
        // Words strictly above `w`.
        let (s, sbits) = (w / 64, w % 64);
        let above = if sbits == 63 {
            0
        } else {
            self.summary[s] & (u64::MAX << (sbits + 1))
        };
        let found = if above != 0 {
            Some(s * 64 + above.trailing_zeros() as usize)
        } else {
            (s + 1..self.summary.len())
                .find(|&t| self.summary[t] != 0)
                .map(|t| t * 64 + self.summary[t].trailing_zeros() as usize)
        }?;
        Some(found * 64 + self.words[found].trailing_zeros() as usize)
    }

    /// Non-empty levels from the best, at most `count`: `(price, qty, orders)`.
    pub fn depth(&self, count: usize) -> Vec<(u64, u64, u32)> {
        let mut out = Vec::new();
        let mut at = self.best;
        while let Some(index) = at {
            if out.len() == count {
                break;
            }
            let level = &self.levels[index];
            out.push((self.price_of(index), level.qty, level.count));
            at = self.next_worse(index);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmap_search_finds_the_neighbours_across_words_and_summaries() {
        let mut ladder = Ladder::new(true);
        ladder.ensure(100_000).unwrap();
        let span = ladder.levels.len();
        let picks = [0usize, 1, 63, 64, 65, 4095, 4096, span - 1];
        for &i in picks.iter().filter(|&&i| i < span) {
            ladder.levels[i].count = 1;
            ladder.mark_occupied(i);
        }
        let occupied: Vec<usize> = picks.iter().copied().filter(|&i| i < span).collect();
        for probe in 0..span {
            let below = occupied.iter().copied().filter(|&i| i <= probe).max();
            let above = occupied.iter().copied().filter(|&i| i >= probe).min();
            assert_eq!(ladder.highest_at_or_below(probe), below, "below {probe}");
            assert_eq!(ladder.lowest_at_or_above(probe), above, "above {probe}");
        }
        assert_eq!(ladder.best(), occupied.iter().copied().max());
    }

    #[test]
    fn the_window_grows_both_ways_and_refuses_beyond_the_span() {
        let mut ladder = Ladder::new(false);
        let first = ladder.ensure(50_000).unwrap();
        ladder.levels[first].count = 1;
        ladder.mark_occupied(first);
        let low = ladder.ensure(10).unwrap();
        assert_eq!(ladder.price_of(low), 10);
        let high = ladder.ensure(400_000).unwrap();
        assert_eq!(ladder.price_of(high), 400_000);
        // The resting level kept its price through both rebases.
        let kept = ladder.index_of(50_000).unwrap();
        assert_eq!(ladder.level(kept).count, 1);
        assert_eq!(ladder.best(), Some(kept));
        assert!(ladder.ensure(10 + LADDER_SPAN_MAX).is_none());
    }
}
