//! The player's driver for open games (`docs/spec/disputes.md` §2, §5–6): reads the
//! game, the node and L1, asks the pure core (`moves`) which move is the player's, and
//! makes it, with the evidence the move needs (batches, Portal records) and the bonds
//! it claims afterwards.

use super::*;

impl Player {
    pub(crate) async fn play_games(
        &mut self,
        report: &mut RoundReport,
    ) -> Result<(), DisputeError> {
        let count = self.game_count().await?;
        let mut all_over = true;
        for id in self.first_open_game..count {
            let game = self.game(id).await?;
            let dispute_open = if game.status == STATUS_OPEN {
                let dispute = self.dispute_id(id).await?;
                self.dispute(dispute).await?.status == STATUS_OPEN
            } else {
                false
            };
            // A game left open in a dispute that is over matters only for the bond it
            // holds (returned by `cancel`).
            if game.status != STATUS_OPEN || (!dispute_open && game.bond == 0) {
                if all_over {
                    self.first_open_game = id + 1;
                }
                continue;
            }
            all_over = false;
            if game.challenger != self.me && game.defender != self.me {
                continue;
            }
            match self.play(id, &game, dispute_open).await {
                Ok(Some(what)) => report.moves.push((id, what)),
                Ok(None) => {}
                Err(error) => tracing::warn!(game = id, %error, "no move this round"),
            }
        }
        Ok(())
    }

    /// The player's move in game `id`, if it is its turn.
    async fn play(
        &mut self,
        id: u64,
        game: &DisputeGame::Game,
        dispute_open: bool,
    ) -> Result<Option<&'static str>, DisputeError> {
        let gid = U256::from(id);
        let output_still_there = self.output_still_there(game).await?;
        let mut turn = Turn {
            defending: game.defender == self.me,
            challenging: game.challenger == self.me,
            output_still_there,
            dispute_open,
            bonded: game.bond != 0,
            level: game.level,
            span: game.hi - game.lo,
            mid_posted: game.midPosted,
            defender_to_move: game.defenderToMove,
            block_revealed: game.blockRevealed,
            content_disputed: false,
            children_posted: false,
            clock_out: false,
        };
        let derivation = if output_still_there && game.level == LEVEL_BLOCKS && game.blockRevealed {
            let derivation = self
                .game_view(&DisputeGame::getDerivationCall { gameId: gid })
                .await?;
            turn.content_disputed = derivation.contentDisputed;
            turn.children_posted = derivation.childrenPosted;
            Some(derivation)
        } else {
            None
        };
        let mut chosen = moves::choose(&turn);
        if chosen.is_none() && output_still_there && turn.waits_on_other_side() {
            // No time left at the latest L1 block means overrun in the next, where
            // `timeout` lands.
            let remaining = self
                .game_view(&DisputeGame::remainingTimeCall { gameId: gid })
                .await?;
            turn.clock_out = remaining == 0;
            chosen = moves::choose(&turn);
        }
        let Some(chosen) = chosen else {
            return Ok(None);
        };
        let mid = game.lo + (game.hi - game.lo) / 2;
        match chosen {
            Move::Cancel => {
                self.queue(
                    &DisputeGame::cancelCall { gameId: gid },
                    U256::ZERO,
                    "cancel",
                );
                Ok(Some("cancel"))
            }
            Move::Answer => {
                let mine = self.claim_at(id, game, mid).await?;
                // Nothing about a block that is not derivable is agreed to.
                let agree = mine == game.midClaim && mine != NOT_DERIVABLE_CLAIM;
                let call = DisputeGame::answerCall {
                    gameId: gid,
                    lo: game.lo,
                    hi: game.hi,
                    agree,
                };
                self.queue(&call, U256::ZERO, "answer");
                Ok(Some(if agree { "agree" } else { "disagree" }))
            }
            Move::ClaimMidpoint => {
                let claim = self.claim_at(id, game, mid).await?;
                let call = DisputeGame::claimMidpointCall {
                    gameId: gid,
                    lo: game.lo,
                    hi: game.hi,
                    claim,
                };
                self.queue(&call, U256::ZERO, "claim a midpoint");
                Ok(Some("claim midpoint"))
            }
            Move::RevealBlock => {
                let (_, parent) = self.require_block(game.lo).await?;
                let (_, header) = self.require_block(game.hi).await?;
                let source = self
                    .l2
                    .get_block_source(game.hi)
                    .await?
                    .ok_or(DisputeError::MissingSource(game.hi))?;
                let forced_record = match source {
                    BlockSource::Forced { index, .. } => index,
                    BlockSource::Batch { .. } => 0,
                };
                let call = DisputeGame::revealBlockCall {
                    gameId: gid,
                    parentHeader: Bytes::from(parent.encode()),
                    parentPosition: self.source_position(game.lo).await?,
                    header: Bytes::from(header.encode()),
                    position: source.position(),
                    forcedRecord: forced_record,
                };
                self.queue(&call, U256::ZERO, "reveal a block");
                Ok(Some("reveal block"))
            }
            Move::AfterReveal | Move::DescendOrProve | Move::RevealChildren => {
                let derivation = derivation.ok_or(DisputeError::NotRevealed(id))?;
                match chosen {
                    Move::AfterReveal => self.after_reveal(id, game, &derivation).await.map(Some),
                    Move::DescendOrProve => {
                        self.descend_or_prove(id, game, &derivation).await.map(Some)
                    }
                    _ => {
                        let leaves = self.node_leaves(game.blockNumber).await?;
                        let (left, right) = transactions_children(
                            &leaves,
                            usize::from(derivation.contentDepth),
                            derivation.contentIndex as usize,
                        );
                        let call = DisputeGame::revealChildrenCall {
                            gameId: gid,
                            left,
                            right,
                        };
                        self.queue(&call, U256::ZERO, "reveal children");
                        Ok(Some("reveal children"))
                    }
                }
            }
            Move::SubStep => {
                let sub = self
                    .game_view(&DisputeGame::getSubLevelCall { gameId: gid })
                    .await?;
                let input = self
                    .l2
                    .get_sub_step(game.blockNumber, sub.transactionIndex, game.hi)
                    .await?;
                let call = DisputeGame::subStepCall {
                    gameId: gid,
                    lo: game.lo,
                    hi: game.hi,
                    transaction: input.transaction,
                    witness: input.witness,
                };
                self.queue(&call, U256::ZERO, "run an oracle update's sub-step");
                Ok(Some("sub-step"))
            }
            Move::Step => {
                // The prover's result decides, so the honest side has no reason to wait;
                // an oracle update is played once more over its sub-steps, which the
                // challenger opens.
                let step = self.l2.get_step(game.blockNumber, game.lo).await?;
                if step.transaction.first() == Some(&KIND_ORACLE_UPDATE) {
                    if !turn.challenging {
                        let remaining = self
                            .game_view(&DisputeGame::remainingTimeCall { gameId: gid })
                            .await?;
                        turn.clock_out = remaining == 0;
                    }
                    match moves::at_oracle_update(&turn) {
                        Some(OracleUpdateMove::OpenSubSteps) => {}
                        Some(OracleUpdateMove::Timeout) => {
                            self.queue(
                                &DisputeGame::timeoutCall { gameId: gid },
                                U256::ZERO,
                                "timeout",
                            );
                            return Ok(Some("timeout"));
                        }
                        _ => return Ok(None),
                    }
                    let call = DisputeGame::disputeOracleUpdateCall {
                        gameId: gid,
                        lo: game.lo,
                        hi: game.hi,
                        transaction: step.transaction,
                        siblings: step.siblings,
                        witness: step.witness,
                    };
                    self.queue(&call, U256::ZERO, "dispute an oracle update's sub-steps");
                    return Ok(Some("dispute sub-steps"));
                }
                let call = DisputeGame::stepCall {
                    gameId: gid,
                    lo: game.lo,
                    hi: game.hi,
                    transaction: step.transaction,
                    siblings: step.siblings,
                    witness: step.witness,
                };
                self.queue(&call, U256::ZERO, "run the one-step prover");
                Ok(Some("step"))
            }
            Move::Timeout => {
                self.queue(
                    &DisputeGame::timeoutCall { gameId: gid },
                    U256::ZERO,
                    "timeout",
                );
                Ok(Some("timeout"))
            }
        }
    }

    /// The challenger's move after the reveal. The node's block at the node's position:
    /// another state root only, an execution dispute. Another position: if the node's
    /// comes first (and not before the parent's), derivation takes that source before the
    /// defender's (`disputeEarlierSource`); else the defender's is no candidate
    /// (`disputeBatchBlock` / `disputeForcedBlock`). The same position, another block:
    /// the named source contradicts the header (time, count, link, the forced rules) or
    /// the transactions differ from the source's.
    async fn after_reveal(
        &mut self,
        id: u64,
        game: &DisputeGame::Game,
        derivation: &DisputeGame::Derivation,
    ) -> Result<&'static str, DisputeError> {
        let gid = U256::from(id);
        let forced = derivation.source == SOURCE_FORCED;
        let reveal = match self.at_head(game.blockNumber, game.l1Head).await? {
            AtHead::NotReadYet => return Err(DisputeError::MissingBlock(game.blockNumber)),
            AtHead::NotDerivable => Reveal {
                derivable: false,
                same_block: false,
                our_position: 0,
                their_position: derivation.position,
                parent_position: derivation.parentPosition,
                forced,
            },
            AtHead::Derivable { position } => {
                let (_, ours) = self.require_block(game.blockNumber).await?;
                Reveal {
                    derivable: true,
                    same_block: ours.transactions_root == game.transactionsRoot
                        && ours.transaction_count == game.transactionCount
                        && ours.timestamp_ms == game.blockTimestampMs,
                    our_position: position,
                    their_position: derivation.position,
                    parent_position: derivation.parentPosition,
                    forced,
                }
            }
        };
        // The chain's forced queue after the agreed parent (where forced blocks go) is
        // read only for the moves that take it.
        let parent = game.blockNumber.saturating_sub(1);
        let mut chosen = moves::after_reveal(&reveal);
        if chosen == RevealMove::CheckSource {
            let contradicts = if reveal.forced {
                let queue = self.l2.get_forced_queue(parent).await?;
                self.forced_block_contradicts(game, derivation, queue.next)
                    .await?
            } else {
                self.evidence(derivation.sourceIndex).await?.contradicts(
                    game.blockNumber,
                    game.blockTimestampMs,
                    game.transactionCount,
                    game.loClaim,
                )
            };
            chosen = moves::after_source_check(contradicts);
        }
        match chosen {
            RevealMove::DisputeExecution => {
                let call = DisputeGame::disputeExecutionCall { gameId: gid };
                self.queue(&call, U256::ZERO, "dispute the execution");
                Ok("dispute execution")
            }
            RevealMove::EarlierSource { position } => {
                let (queue_witness, opening, blobs) = if position % 2 == 0 {
                    let queue = self.l2.get_forced_queue(parent).await?;
                    (queue.witness, Bytes::new(), false)
                } else {
                    let (opening, blobs) = self.header_opening(position / 2).await?;
                    (Bytes::new(), opening, blobs)
                };
                let call = DisputeGame::disputeEarlierSourceCall {
                    gameId: gid,
                    earlier: position,
                    queueWitness: queue_witness,
                    opening,
                    blobs,
                };
                self.queue(&call, U256::ZERO, "dispute with an earlier source");
                Ok("dispute earlier source")
            }
            RevealMove::NotACandidate if reveal.forced => {
                let queue = self.l2.get_forced_queue(parent).await?;
                self.dispute_forced_block(gid, queue.witness).await
            }
            RevealMove::NotACandidate => {
                self.dispute_batch_block(gid, derivation.sourceIndex, game.l1Head)
                    .await
            }
            RevealMove::CheckSource | RevealMove::DisputeContent => {
                let call = DisputeGame::disputeContentCall { gameId: gid };
                self.queue(&call, U256::ZERO, "dispute the block's transactions");
                Ok("dispute content")
            }
        }
    }

    /// Shows that the forced block the defender named is not derivation's
    /// (`queue_witness`: the parent's forced queue).
    async fn dispute_forced_block(
        &mut self,
        gid: U256,
        queue_witness: Bytes,
    ) -> Result<&'static str, DisputeError> {
        let call = DisputeGame::disputeForcedBlockCall {
            gameId: gid,
            queueWitness: queue_witness,
        };
        self.queue(&call, U256::ZERO, "dispute the forced block");
        Ok("dispute forced block")
    }

    /// Shows that batch `index`, the source the defender named, is not derivation's at
    /// the game's `l1_head`. A batch posted after the head is no source whatever it
    /// holds: the game does not read it, so it is neither fetched nor opened.
    async fn dispute_batch_block(
        &mut self,
        gid: U256,
        index: u64,
        l1_head: u64,
    ) -> Result<&'static str, DisputeError> {
        let late = self
            .source_l1_block(BlockSource::Batch { index })
            .await
            .is_ok_and(|posted| posted > l1_head);
        let (opening, blobs) = if late {
            (Bytes::new(), false)
        } else {
            self.header_opening(index).await?
        };
        let call = DisputeGame::disputeBatchBlockCall {
            gameId: gid,
            opening,
            blobs,
        };
        self.queue(&call, U256::ZERO, "dispute the block's batch");
        Ok("dispute batch block")
    }

    /// The opening of batch `index`'s header and block list and whether it is in blobs
    /// (empty for a batch the inbox does not have: no opening is read for it).
    async fn header_opening(&mut self, index: u64) -> Result<(Bytes, bool), DisputeError> {
        let blobs = match self.evidence(index).await {
            Ok(evidence) => evidence.in_blobs(),
            Err(DisputeError::Evidence(EvidenceError::NoBatch(_))) => {
                return Ok((Bytes::new(), false));
            }
            Err(error) => return Err(error),
        };
        let opening = self.with_evidence(index, Evidence::header_opening).await?;
        Ok((opening, blobs))
    }

    /// Whether the revealed block is not the one derivation makes for the forced record
    /// the defender named: the record is missing or not the chain's `next`, or the block
    /// holds another count than one, or its time is not the record's L1 time or, if
    /// later, its parent's.
    async fn forced_block_contradicts(
        &self,
        game: &DisputeGame::Game,
        derivation: &DisputeGame::Derivation,
        next: u64,
    ) -> Result<bool, DisputeError> {
        // The opener applies derivation's time rule (0: no such record).
        let call = BatchOpener::forcedBlockTimeCall {
            record: derivation.sourceIndex,
            parentTimestampMs: derivation.parentTimestampMs,
        };
        let timestamp_ms = self.l1.view(self.opener, &call).await?;
        Ok(timestamp_ms == 0
            || derivation.sourceIndex != next
            || game.transactionCount != 1
            || game.blockTimestampMs != timestamp_ms)
    }

    /// The challenger's move in a content descent: follow the child that differs from
    /// the source's tree, or, at a leaf, prove the source's transaction there.
    async fn descend_or_prove(
        &mut self,
        id: u64,
        game: &DisputeGame::Game,
        derivation: &DisputeGame::Derivation,
    ) -> Result<&'static str, DisputeError> {
        let gid = U256::from(id);
        if derivation.childrenPosted {
            let leaves = self.source_leaves(game, derivation).await?;
            let (left, _) = transactions_children(
                &leaves,
                usize::from(derivation.contentDepth),
                derivation.contentIndex as usize,
            );
            let right = left == derivation.leftChild;
            let call = DisputeGame::descendCall { gameId: gid, right };
            self.queue(&call, U256::ZERO, "descend");
            return Ok("descend");
        }
        let position = derivation.contentIndex;
        if derivation.source == SOURCE_FORCED {
            let index = derivation.sourceIndex + position;
            self.refresh_records().await?;
            let record = self
                .records
                .forced(index)
                .cloned()
                .ok_or(EvidenceError::NoForcedRecord(index))?;
            let call = DisputeGame::proveForcedTransactionCall {
                gameId: gid,
                sender: record.sender,
                payload: Bytes::from(record.bytes),
            };
            self.queue(&call, U256::ZERO, "prove the forced transaction");
            return Ok("prove forced transaction");
        }
        let domain = self.domain().await?;
        self.refresh_records().await?;
        let records = self.records.clone();
        let blobs = self.evidence(derivation.sourceIndex).await?.in_blobs();
        let number = game.blockNumber;
        let (opening, deposit_record) = self
            .with_evidence(derivation.sourceIndex, move |evidence| {
                evidence.transaction_opening(number, position as usize, &domain, &records)
            })
            .await?;
        let call = DisputeGame::proveBatchTransactionCall {
            gameId: gid,
            opening,
            blobs,
            depositRecord: deposit_record,
        };
        self.queue(&call, U256::ZERO, "prove the batch's transaction");
        Ok("prove batch transaction")
    }

    /// The leaves block `game.blockNumber` must have by the source the defender named:
    /// the node's own when the node took the block from that source, else the Portal's
    /// forced records or the named batch's block, decoded.
    async fn source_leaves(
        &mut self,
        game: &DisputeGame::Game,
        derivation: &DisputeGame::Derivation,
    ) -> Result<Vec<B256>, DisputeError> {
        let named = (derivation.source == SOURCE_FORCED, derivation.sourceIndex);
        let ours = self.l2.get_block_source(game.blockNumber).await?;
        if ours.map(|source| source.named()) == Some(named) {
            return self.node_leaves(game.blockNumber).await;
        }
        self.refresh_records().await?;
        if let (true, first) = named {
            return Ok(forced_leaves(&self.records, first, game.transactionCount)?);
        }
        let domain = self.domain().await?;
        let records = std::mem::take(&mut self.records);
        let leaves = self
            .evidence(derivation.sourceIndex)
            .await
            .and_then(|evidence| Ok(evidence.leaves(game.blockNumber, &domain, &records)?));
        self.records = records;
        leaves
    }

    /// The node's block `number`'s transaction leaves (keccak256 of canonical bytes).
    async fn node_leaves(&self, number: u64) -> Result<Vec<B256>, DisputeError> {
        let view = self
            .l2
            .get_block(BlockRef::Number(number), Some(true))
            .await?
            .ok_or(DisputeError::MissingBlock(number))?;
        Ok(view
            .transactions
            .iter()
            .map(|tx| transaction_leaf(&tx.raw))
            .collect())
    }

    /// Batch `index`, read from L1 once.
    async fn evidence(&mut self, index: u64) -> Result<&mut Evidence, DisputeError> {
        if !self.evidence.contains_key(&index) {
            let evidence =
                Evidence::fetch(&self.l1, self.inbox, index, self.config.l1_start_block).await?;
            self.evidence.insert(index, evidence);
        }
        Ok(self.evidence.get_mut(&index).expect("inserted just above"))
    }

    /// Runs `work` on batch `index`'s evidence off the async workers (blob openings
    /// compute KZG proofs, tens of milliseconds per field element).
    async fn with_evidence<T, F>(&mut self, index: u64, work: F) -> Result<T, DisputeError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Evidence) -> Result<T, EvidenceError> + Send + 'static,
    {
        self.evidence(index).await?;
        let mut evidence = self.evidence.remove(&index).expect("fetched just above");
        let (evidence, result) = tokio::task::spawn_blocking(move || {
            let result = work(&mut evidence);
            (evidence, result)
        })
        .await
        .map_err(|e| L1Error::Blob(format!("opening task: {e}")))?;
        self.evidence.insert(index, evidence);
        Ok(result?)
    }

    /// Reads the Portal's deposits and forced records logged since the last read.
    async fn refresh_records(&mut self) -> Result<(), DisputeError> {
        let latest = self.l1.block_number().await?;
        let from = self
            .records_read_to
            .map_or(self.config.l1_start_block, |read| read + 1);
        if from > latest {
            return Ok(());
        }
        for log in straddle_l1::deposits_between(&self.l1, self.portal, from, latest).await? {
            self.records.add_deposit(log.deposit, log.l1_block);
        }
        for log in straddle_l1::forced_between(&self.l1, self.portal, from, latest).await? {
            self.records.add_forced(log.forced(), log.l1_block);
        }
        self.records_read_to = Some(latest);
        Ok(())
    }

    /// The L2 signing domain, from the node's typed data.
    async fn domain(&mut self) -> Result<Domain, DisputeError> {
        if let Some(domain) = self.domain {
            return Ok(domain);
        }
        let probe =
            straddle_primitives::Action::WithdrawMargin(straddle_primitives::WithdrawMargin {
                amount: 0,
                nonce: 0,
                expiryMs: 0,
            });
        let typed = self.l2.typed_data(probe).await?;
        let domain: Domain = serde_json::from_value(serde_json::json!({
            "chainId": typed["domain"]["chainId"],
            "verifyingContract": typed["domain"]["verifyingContract"],
        }))
        .map_err(|e| L1Error::Decode(format!("the node's signing domain: {e}")))?;
        self.domain = Some(domain);
        Ok(domain)
    }

    pub(crate) async fn output_still_there(
        &self,
        game: &DisputeGame::Game,
    ) -> Result<bool, DisputeError> {
        // Indices are never reused: the output is there until it is removed.
        Ok(!self.output(game.outputIndex).await?.removed)
    }

    /// Claims the player's credit in the game (bonds of games won or cancelled) and in
    /// the registry (proposers' bonds of outputs it removed); returns the wei claimed.
    pub(crate) async fn claim_credit(&self) -> Result<U256, DisputeError> {
        let in_game = self
            .claim_from(
                self.config.game,
                DisputeGame::creditCall(self.me),
                DisputeGame::claimCreditCall {},
            )
            .await?;
        let in_registry = self
            .claim_from(
                self.registry,
                OutputRegistry::creditCall(self.me),
                OutputRegistry::claimCreditCall {},
            )
            .await?;
        Ok(in_game + in_registry)
    }

    /// Reads `credit` at `contract` and, when there is some, sends `claim`.
    async fn claim_from<V, C>(
        &self,
        contract: Address,
        credit: V,
        claim: C,
    ) -> Result<U256, DisputeError>
    where
        V: SolCall<Return = U256>,
        C: SolCall,
    {
        let owed = self.l1.view(contract, &credit).await?;
        if !owed.is_zero() {
            self.l1
                .transact(contract, &claim, U256::ZERO, "claim credit")
                .await?;
        }
        Ok(owed)
    }
}
