//! The player's pure core (`docs/spec/disputes.md` §2, §5–6): from what it knows of a
//! game, which move is its to make. No I/O: the driver in `lib.rs` reads L1 and the
//! node, asks here, and sends the move. Each rule is unit-tested case by case below.

/// `DisputeGame.Level.Blocks`.
pub const LEVEL_BLOCKS: u8 = 0;
/// `DisputeGame.Level.SubSteps`.
pub const LEVEL_SUB_STEPS: u8 = 2;

/// What the player knows of an open game at its turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Turn {
    /// The player defends the output.
    pub defending: bool,
    /// The player challenges it.
    pub challenging: bool,
    /// The disputed output is still in the registry.
    pub output_still_there: bool,
    /// The game's dispute is still undecided (no defender has won it).
    pub dispute_open: bool,
    /// The game's defender posted a bond (it joined the defense).
    pub bonded: bool,
    /// `DisputeGame.Level` of the bisection.
    pub level: u8,
    /// `hi − lo` of the range under bisection.
    pub span: u64,
    /// A midpoint claim waits for the challenger's answer.
    pub mid_posted: bool,
    /// The defender is to move.
    pub defender_to_move: bool,
    /// The disputed block's header has been revealed.
    pub block_revealed: bool,
    /// After the reveal: the block's transactions are in dispute.
    pub content_disputed: bool,
    /// After the reveal: the defender has posted the children at the current depth.
    pub children_posted: bool,
    /// The side to move has no time left on its clock.
    pub clock_out: bool,
}

impl Turn {
    /// Whether the other side is to move (its clock runs).
    pub fn waits_on_other_side(&self) -> bool {
        (self.defender_to_move && self.challenging) || (!self.defender_to_move && self.defending)
    }
}

/// The move the player makes (`DisputeGame`'s functions), or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    /// The output is gone, or another defender won the dispute: the challenger (output
    /// gone) or a bonded defender takes its bond back (`cancel`).
    Cancel,
    /// The challenger answers the midpoint claim, agreeing iff its own claim is equal.
    Answer,
    /// The defender claims the midpoint of the range.
    ClaimMidpoint,
    /// The defender reveals the disputed block with its parent and positions.
    RevealBlock,
    /// The challenger's move after the reveal: [`after_reveal`] decides.
    AfterReveal,
    /// The challenger descends the defender's transactions tree or proves a leaf.
    DescendOrProve,
    /// The defender reveals the children at the current depth.
    RevealChildren,
    /// One oracle sub-step is left: either side runs it.
    SubStep,
    /// One transaction is left: either side runs it (an oracle update is opened into
    /// sub-steps instead: [`at_oracle_update`] decides).
    Step,
    /// The other side's clock ran out (`timeout`).
    Timeout,
}

/// The player's move in a game, if any (`None`: not its turn, or nothing to do yet).
pub fn choose(turn: &Turn) -> Option<Move> {
    let blocks = turn.level == LEVEL_BLOCKS;
    if !turn.output_still_there || !turn.dispute_open {
        let refund =
            (turn.challenging && !turn.output_still_there) || (turn.defending && turn.bonded);
        return refund.then_some(Move::Cancel);
    }
    if turn.mid_posted && !turn.defender_to_move && turn.challenging {
        return Some(Move::Answer);
    }
    if turn.span >= 2 && !turn.mid_posted && turn.defender_to_move && turn.defending {
        return Some(Move::ClaimMidpoint);
    }
    if blocks && turn.span == 1 && !turn.block_revealed && turn.defender_to_move && turn.defending {
        return Some(Move::RevealBlock);
    }
    if blocks && turn.block_revealed {
        if turn.challenging && !turn.defender_to_move {
            return Some(if turn.content_disputed {
                Move::DescendOrProve
            } else {
                Move::AfterReveal
            });
        }
        if turn.defending && turn.defender_to_move && turn.content_disputed && !turn.children_posted
        {
            return Some(Move::RevealChildren);
        }
    }
    if turn.level == LEVEL_SUB_STEPS && turn.span == 1 && !turn.defender_to_move {
        return Some(Move::SubStep);
    }
    if !blocks && turn.level != LEVEL_SUB_STEPS && turn.span == 1 && !turn.defender_to_move {
        return Some(Move::Step);
    }
    (turn.waits_on_other_side() && turn.clock_out).then_some(Move::Timeout)
}

/// The move at one transaction left when it is an oracle update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OracleUpdateMove {
    /// The challenger opens the update into its sub-steps (`disputeOracleUpdate`).
    OpenSubSteps,
    /// The challenger's clock ran out (`timeout`).
    Timeout,
}

/// At one transaction left that is an oracle update only the challenger can move (it
/// opens the update's sub-steps); the defender waits for that, or for the challenger's
/// clock to run out, and then ends the game.
pub fn at_oracle_update(turn: &Turn) -> Option<OracleUpdateMove> {
    if turn.challenging {
        Some(OracleUpdateMove::OpenSubSteps)
    } else if turn.waits_on_other_side() && turn.clock_out {
        Some(OracleUpdateMove::Timeout)
    } else {
        None
    }
}

/// Where the defender says derivation took the revealed block from, against the
/// player's node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reveal {
    /// The data on L1 up to the game's head derives a block at this number (the node's
    /// chain has it from a source on L1 by then).
    pub derivable: bool,
    /// The node's block has the revealed header's transactions root, count and time.
    pub same_block: bool,
    /// The node's position for the block.
    pub our_position: u64,
    /// The defender's position for it.
    pub their_position: u64,
    /// The agreed parent's position.
    pub parent_position: u64,
    /// The defender's position names a forced record (else a batch).
    pub forced: bool,
}

/// The challenger's move after a reveal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevealMove {
    /// Same block, same source: the state root differs, dispute the execution.
    DisputeExecution,
    /// The node's source comes first: derivation takes it instead
    /// (`disputeEarlierSource`; a forced block when the position is even).
    EarlierSource {
        /// The node's position.
        position: u64,
    },
    /// The defender's source is no candidate: `disputeForcedBlock` / `disputeBatchBlock`.
    NotACandidate,
    /// Same position, another block: check whether the named source contradicts the
    /// header ([`after_source_check`] then decides).
    CheckSource,
    /// The source agrees with the header: the block's transactions are disputed.
    DisputeContent,
}

/// [`RevealMove`] for `reveal`.
pub fn after_reveal(reveal: &Reveal) -> RevealMove {
    // Whatever the defender names, it is no source of a block the data on L1 by the
    // game's head does not derive.
    if !reveal.derivable {
        return RevealMove::NotACandidate;
    }
    if reveal.same_block && reveal.our_position == reveal.their_position {
        return RevealMove::DisputeExecution;
    }
    if reveal.our_position != reveal.their_position {
        if reveal.our_position < reveal.their_position
            && reveal.our_position >= reveal.parent_position
        {
            return RevealMove::EarlierSource {
                position: reveal.our_position,
            };
        }
        // The defender's position comes before derivation's or its parent's.
        return RevealMove::NotACandidate;
    }
    RevealMove::CheckSource
}

/// After [`RevealMove::CheckSource`]: a source that contradicts the revealed header is
/// disputed as no candidate for it; otherwise the block's transactions are.
pub fn after_source_check(source_contradicts: bool) -> RevealMove {
    if source_contradicts {
        RevealMove::NotACandidate
    } else {
        RevealMove::DisputeContent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defender() -> Turn {
        Turn {
            defending: true,
            output_still_there: true,
            dispute_open: true,
            ..Turn::default()
        }
    }

    fn challenger() -> Turn {
        Turn {
            challenging: true,
            output_still_there: true,
            dispute_open: true,
            ..Turn::default()
        }
    }

    #[test]
    fn a_challenger_cancels_when_the_output_is_gone_and_a_defender_does_nothing() {
        let gone = |t: Turn| Turn {
            output_still_there: false,
            ..t
        };
        assert_eq!(choose(&gone(challenger())), Some(Move::Cancel));
        assert_eq!(choose(&gone(defender())), None);
    }

    #[test]
    fn once_another_defender_won_only_a_bonded_defender_cancels() {
        let decided = |t: Turn| Turn {
            dispute_open: false,
            // Whatever the game's state, no move is made in it.
            span: 4,
            defender_to_move: true,
            ..t
        };
        let bonded = Turn {
            bonded: true,
            ..defender()
        };
        assert_eq!(choose(&decided(bonded)), Some(Move::Cancel));
        assert_eq!(
            choose(&decided(defender())),
            None,
            "the proposer holds no bond here"
        );
        assert_eq!(choose(&decided(challenger())), None, "the output stays");
        let gone = Turn {
            output_still_there: false,
            ..decided(challenger())
        };
        assert_eq!(
            choose(&gone),
            Some(Move::Cancel),
            "the output went: its bond back"
        );
    }

    #[test]
    fn bisection_alternates_claims_and_answers() {
        let range = |t: Turn| Turn {
            span: 8,
            level: LEVEL_BLOCKS,
            ..t
        };
        let defender_turn = Turn {
            defender_to_move: true,
            ..range(defender())
        };
        assert_eq!(choose(&defender_turn), Some(Move::ClaimMidpoint));
        let posted = Turn {
            mid_posted: true,
            ..range(challenger())
        };
        assert_eq!(choose(&posted), Some(Move::Answer));
        // Not the player's turn: nothing, unless the other side's clock ran out.
        assert_eq!(choose(&range(defender())), None);
        assert_eq!(
            choose(&Turn {
                clock_out: true,
                ..range(defender())
            }),
            Some(Move::Timeout)
        );
        assert_eq!(
            choose(&Turn {
                defender_to_move: true,
                clock_out: true,
                ..range(challenger())
            }),
            Some(Move::Timeout)
        );
    }

    #[test]
    fn one_block_left_is_revealed_then_judged_by_the_challenger() {
        let one = |t: Turn| Turn {
            span: 1,
            level: LEVEL_BLOCKS,
            ..t
        };
        assert_eq!(
            choose(&Turn {
                defender_to_move: true,
                ..one(defender())
            }),
            Some(Move::RevealBlock)
        );
        let revealed = |t: Turn| Turn {
            block_revealed: true,
            ..one(t)
        };
        assert_eq!(choose(&revealed(challenger())), Some(Move::AfterReveal));
        assert_eq!(
            choose(&Turn {
                content_disputed: true,
                ..revealed(challenger())
            }),
            Some(Move::DescendOrProve)
        );
        let children_due = Turn {
            content_disputed: true,
            defender_to_move: true,
            ..revealed(defender())
        };
        assert_eq!(choose(&children_due), Some(Move::RevealChildren));
        assert_eq!(
            choose(&Turn {
                children_posted: true,
                ..children_due
            }),
            None
        );
    }

    #[test]
    fn one_transaction_or_sub_step_left_is_run_by_either_side() {
        for player in [defender(), challenger()] {
            let step = Turn {
                span: 1,
                level: 1,
                ..player
            };
            assert_eq!(choose(&step), Some(Move::Step));
            let sub = Turn {
                level: LEVEL_SUB_STEPS,
                ..step
            };
            assert_eq!(choose(&sub), Some(Move::SubStep));
            // The defender's turn at one transaction left: nobody steps.
            assert_ne!(
                choose(&Turn {
                    defender_to_move: true,
                    ..step
                }),
                Some(Move::Step)
            );
        }
    }

    #[test]
    fn at_an_oracle_update_the_challenger_opens_it_and_the_defender_times_a_stall_out() {
        let one = |t: Turn| Turn {
            span: 1,
            level: 1,
            ..t
        };
        assert_eq!(
            at_oracle_update(&one(challenger())),
            Some(OracleUpdateMove::OpenSubSteps)
        );
        assert_eq!(at_oracle_update(&one(defender())), None, "clock running");
        assert_eq!(
            at_oracle_update(&Turn {
                clock_out: true,
                ..one(defender())
            }),
            Some(OracleUpdateMove::Timeout),
            "a challenger that never opens the update loses on time"
        );
    }

    fn reveal(our: u64, their: u64, same_block: bool) -> Reveal {
        Reveal {
            derivable: true,
            same_block,
            our_position: our,
            their_position: their,
            parent_position: 5,
            forced: false,
        }
    }

    #[test]
    fn after_a_reveal_the_source_is_judged_before_the_content() {
        assert_eq!(
            after_reveal(&reveal(7, 7, true)),
            RevealMove::DisputeExecution
        );
        assert_eq!(
            after_reveal(&reveal(7, 9, true)),
            RevealMove::EarlierSource { position: 7 }
        );
        assert_eq!(
            after_reveal(&reveal(5, 9, false)),
            RevealMove::EarlierSource { position: 5 },
            "the parent's own batch carries the block"
        );
        assert_eq!(
            after_reveal(&reveal(4, 9, false)),
            RevealMove::NotACandidate,
            "before the parent: derivation never looks there, so the defender's is wrong"
        );
        assert_eq!(after_reveal(&reveal(9, 7, true)), RevealMove::NotACandidate);
        assert_eq!(after_reveal(&reveal(7, 7, false)), RevealMove::CheckSource);
        assert_eq!(after_source_check(true), RevealMove::NotACandidate);
        assert_eq!(after_source_check(false), RevealMove::DisputeContent);
        // A block the data on L1 by the game's head does not derive: whatever the source,
        // even the node's own (posted later) and the same block.
        let late = Reveal {
            derivable: false,
            ..reveal(7, 7, true)
        };
        assert_eq!(after_reveal(&late), RevealMove::NotACandidate);
    }
}
