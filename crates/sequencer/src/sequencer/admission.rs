//! Admission, the first of the sequencer's threads (`docs/spec/rpc.md`, `matching.md`):
//! it owns the execution state and the order books, executes each verified transaction
//! against the block being built, frames the accepted ones for the log, and closes a
//! block every interval for the sealer.

use super::*;

pub(super) struct OpenBlock {
    pub(super) context: BlockContext,
    pub(super) deadline: Instant,
    pub(super) transactions: Vec<StoredTx>,
}

pub(super) struct Admission {
    pub(super) state: ExecutionState,
    pub(super) role: Role,
    /// What blocks are stamped with.
    pub(super) clock: Arc<dyn Clock>,
    /// The order books, over `state`.
    pub(super) engine: Engine,
    pub(super) log: SyncSender<LogItem>,
    pub(super) sealer: SyncSender<SealItem>,
    pub(super) interval: Duration,
    pub(super) open: Option<OpenBlock>,
    pub(super) framed: Vec<u8>,
    pub(super) acks: Vec<Waiting>,
    /// Market events to publish with the next flush.
    pub(super) events: Vec<MarketEvent>,
    /// Proof requests waiting for the open block to close: only then is the ledger's
    /// value of a leaf the value under a root the sealer will have.
    pub(super) pending_proofs: Vec<(StateKey, oneshot::Sender<ProofSnapshot>)>,
}

impl Admission {
    pub(super) fn new(
        state: ExecutionState,
        log: SyncSender<LogItem>,
        sealer: SyncSender<SealItem>,
        interval: Duration,
        role: Role,
        clock: Arc<dyn Clock>,
    ) -> Admission {
        let engine = Engine::from_ledger(&state.ledger, clock.now_ms());
        Admission {
            state,
            role,
            clock,
            engine,
            log,
            sealer,
            interval,
            open: None,
            framed: Vec::new(),
            acks: Vec::new(),
            events: Vec::new(),
            pending_proofs: Vec::new(),
        }
    }

    pub(super) fn run(mut self, commands: Receiver<Command>) {
        loop {
            let wait = self.open.as_ref().map_or(self.interval, |b| {
                b.deadline.saturating_duration_since(Instant::now())
            });
            match commands.recv_timeout(wait) {
                Ok(command) => {
                    self.handle(command);
                    for command in commands.try_iter().take(GROUP_COMMIT_MAX - 1) {
                        self.handle(command);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush();
                    self.seal();
                    return;
                }
            }
            self.flush();
            if self
                .open
                .as_ref()
                .is_some_and(|b| Instant::now() >= b.deadline)
            {
                self.seal();
            }
        }
    }

    pub(super) fn handle(&mut self, command: Command) {
        if self.role == Role::Follower {
            match command {
                Command::Submit { reply, .. } => {
                    let _ = reply.send(Err(SubmitError::Follower));
                    return;
                }
                Command::PlaceOrder { reply, .. } => {
                    let _ = reply.send(Err(SubmitError::Follower));
                    return;
                }
                _ => {}
            }
        }
        match command {
            Command::Import {
                block,
                received,
                reply,
            } => self.import(*block, received, reply),
            Command::Submit {
                tx,
                from_l1,
                received,
                reply,
            } => self.submit(*tx, from_l1, received, reply),
            Command::Account { address, reply } => {
                let account = self
                    .state
                    .ledger
                    .account(&address)
                    .cloned()
                    .unwrap_or_default();
                let pending_block = self
                    .open
                    .as_ref()
                    .map_or(self.state.last_block_number, |b| b.context.number);
                let clearinghouse = self.state.ledger.clearinghouse();
                let stored = clearinghouse.portfolio(&address);
                // Normalise once: the risk is computed on the settled view shown.
                let (portfolio, risk) = match clearinghouse.normalized(&stored) {
                    Ok((settled, _)) => {
                        let risk = clearinghouse.risk_of_normalized(&settled).ok();
                        (settled, risk)
                    }
                    Err(_) => (stored, None),
                };
                let liquidation_index = risk
                    .as_ref()
                    .and_then(|risk| estimate_liquidation_index(&self.state, &portfolio, risk));
                let marks = portfolio
                    .positions
                    .iter()
                    .map(|p| {
                        clearinghouse
                            .market(p.market)
                            .and_then(|m| m.vector.as_ref())
                            .map(|v| (v.mark_nano / 1_000) as u64)
                    })
                    .collect();
                let _ = reply.send(AccountSnapshot {
                    account,
                    portfolio,
                    risk,
                    liquidation_index,
                    marks,
                    pending_block,
                });
            }
            Command::Read(query) => query(&self.state),
            Command::PlaceOrder {
                signed,
                verified,
                received,
                reply,
            } => self.place_order(&signed, *verified, received, reply),
            Command::Book {
                market,
                levels,
                reply,
            } => {
                // Publish pending updates first, so the snapshot's number is exact.
                self.collect_book_updates();
                let _ = reply.send(self.engine.snapshot(&self.state.ledger, market, levels));
            }
            Command::OpenOrders { owner, reply } => {
                let _ = reply.send(self.open_orders(owner));
            }
            Command::Proof { key, reply } => {
                self.pending_proofs.push((key, reply));
                if self.open.as_ref().is_none_or(|b| b.transactions.is_empty()) {
                    self.answer_proofs();
                }
            }
        }
    }

    pub(super) fn submit(
        &mut self,
        tx: AdmittedTx,
        from_l1: bool,
        received: Instant,
        reply: Reply,
    ) {
        let result = match &tx.verified {
            VerifiedTransaction::Deposit(_)
            | VerifiedTransaction::Forced { .. }
            | VerifiedTransaction::Undecodable
                if !from_l1 =>
            {
                Err(SubmitError::L1Only)
            }
            VerifiedTransaction::MatchPlaced { .. } => Err(SubmitError::EngineOnly(
                "matches against placed orders are made by the sequencer's matching engine: send the taker with straddle_placeOrder",
            )),
            VerifiedTransaction::PlaceOrder(_) => Err(SubmitError::EngineOnly(
                "single orders go through the matching engine: send them with straddle_placeOrder",
            )),
            VerifiedTransaction::PlaceOrders { .. } => self.replace_quotes(tx),
            _ => match self.execute(tx) {
                Ok((ack, verified)) => {
                    self.observe(&verified);
                    Ok(ack)
                }
                Err(error) => Err(SubmitError::Rejected(error)),
            },
        };
        match result {
            Ok(ack) => self.acks.push(Waiting {
                block_number: ack.block_number,
                waiter: Waiter::Tx(reply, ack),
                received,
            }),
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }

    /// Executes a derived block as it is: a transaction the STF refuses (or whose
    /// signature does not verify) stays in the block and changes nothing. The block is
    /// closed at once with the batch's timestamp.
    pub(super) fn import(
        &mut self,
        block: CheckedBlock,
        received: Instant,
        reply: oneshot::Sender<Result<ImportAck, SubmitError>>,
    ) {
        self.seal();
        let parent = (
            self.state.last_block_number,
            self.state.last_block_timestamp_ms,
        );
        if let Err(fault) = block_follows(parent, block.number, block.timestamp_ms) {
            let _ = reply.send(Err(SubmitError::BlockRefused(fault)));
            return;
        }
        let context = BlockContext {
            number: block.number,
            timestamp_ms: block.timestamp_ms,
        };
        frame_block_open(&mut self.framed, block.number, block.timestamp_ms);
        let mut transactions = Vec::with_capacity(block.transactions.len());
        let mut refused = Vec::new();
        for (index, tx) in block.transactions.into_iter().enumerate() {
            frame_tx(&mut self.framed, &tx.transaction().encode());
            let (stored, outcome) = self.state.execute_checked(tx, &context);
            match outcome {
                Ok(verified) => self.observe(&verified),
                Err(reason) => {
                    tracing::warn!(block = block.number, index, %reason, "derived transaction refused; it changes nothing");
                    refused.push(index as u32);
                }
            }
            transactions.push(stored);
        }
        let closed = self
            .state
            .close_block(block.number, block.timestamp_ms, transactions)
            .unwrap_or_else(|violation| {
                fatal("an invariant broke; the block is not sealed", &violation)
            });
        self.sweep(block.timestamp_ms);
        self.acks.push(Waiting {
            block_number: block.number,
            waiter: Waiter::Import(
                reply,
                ImportAck {
                    number: block.number,
                    refused,
                },
            ),
            received,
        });
        self.send_to_sealer(SealItem::Block(Box::new(closed)));
        self.answer_proofs();
    }

    /// The block being built, opened if there is none.
    pub(super) fn open_block(&mut self) -> &mut OpenBlock {
        open_block(&mut self.open, &self.state, self.interval, &*self.clock)
    }

    /// Executes one transaction in the open block and frames it for the log; nothing
    /// changes when the STF refuses it. Returns its acknowledgement and, for the caller
    /// to act on, its verified form (the transaction itself joins the block).
    pub(super) fn execute(
        &mut self,
        tx: AdmittedTx,
    ) -> Result<(Acknowledgement, VerifiedTransaction), TxError> {
        let context = self.open_block().context;
        let outcome = self.state.execute(&tx, &context).inspect_err(|error| {
            metrics::counter!("straddle_tx_rejected_total", "reason" => error.name()).increment(1);
        })?;
        let open = open_block(&mut self.open, &self.state, self.interval, &*self.clock);
        if open.transactions.is_empty() {
            frame_block_open(
                &mut self.framed,
                open.context.number,
                open.context.timestamp_ms,
            );
        }
        frame_tx(&mut self.framed, &tx.tx.encode());
        let ack = Acknowledgement {
            tx_hash: tx.hash,
            sender: tx.sender,
            block_number: open.context.number,
            index: open.transactions.len() as u32,
            withdrawal_index: outcome.withdrawal_index,
        };
        let (stored, verified) = tx.split();
        open.transactions.push(stored);
        Ok((ack, verified))
    }

    pub(super) fn flush(&mut self) {
        self.collect_book_updates();
        if self.framed.is_empty() && self.events.is_empty() {
            return;
        }
        let item = LogItem::Records {
            bytes: std::mem::take(&mut self.framed),
            acks: std::mem::take(&mut self.acks),
            events: std::mem::take(&mut self.events),
        };
        if self.log.send(item).is_err() {
            fatal("log thread stopped", &"channel closed");
        }
    }

    pub(super) fn seal(&mut self) {
        let Some(open) = self.open.take() else { return };
        if open.transactions.is_empty() {
            self.answer_proofs();
            return;
        }
        let started = Instant::now();
        let closed = self
            .state
            .close_block(
                open.context.number,
                open.context.timestamp_ms,
                open.transactions,
            )
            .unwrap_or_else(|violation| {
                fatal("an invariant broke; the block is not sealed", &violation)
            });
        self.sweep(open.context.timestamp_ms);
        metrics::histogram!("straddle_block_close_seconds").record(started.elapsed().as_secs_f64());
        self.send_to_sealer(SealItem::Block(Box::new(closed)));
        self.answer_proofs();
    }

    /// Hands the waiting proof requests to the sealer with the leaves' current values.
    /// Called only when no executed transaction is unsealed, so those values are the
    /// ones under the root the sealer holds when it reaches the request.
    pub(super) fn answer_proofs(&mut self) {
        for (key, reply) in std::mem::take(&mut self.pending_proofs) {
            let value = self.state.ledger.leaf_value(&key);
            self.send_to_sealer(SealItem::Proof {
                key: key.encode(),
                value,
                reply,
            });
        }
    }

    pub(super) fn send_to_sealer(&self, item: SealItem) {
        if self.sealer.send(item).is_err() {
            fatal("sealer thread stopped", &"channel closed");
        }
    }
}

/// The block being built in `open`, opened after `state`'s last closed block if there is
/// none, at `clock`'s time or its parent's if later.
pub(super) fn open_block<'a>(
    open: &'a mut Option<OpenBlock>,
    state: &ExecutionState,
    interval: Duration,
    clock: &dyn Clock,
) -> &'a mut OpenBlock {
    open.get_or_insert_with(|| OpenBlock {
        context: BlockContext {
            number: state.last_block_number + 1,
            timestamp_ms: clock.now_ms().max(state.last_block_timestamp_ms),
        },
        deadline: Instant::now() + interval,
        transactions: Vec::new(),
    })
}

/// Display-only estimate of the index level at which an account's equity falls to its
/// maintenance margin: along the volatility-unchanged spot scenarios of the margin grid,
/// the first crossing of `equity + P&L(s) = maintenance` nearest to the current index,
/// linearly interpolated, holding the requirement fixed. `None` when the positions span
/// several underlyings or no crossing lies within the regular shock range.
pub(super) fn estimate_liquidation_index(
    chain: &ExecutionState,
    portfolio: &straddle_exchange::clearinghouse::Portfolio,
    risk: &straddle_exchange::clearinghouse::AccountRisk,
) -> Option<u64> {
    let clearinghouse = chain.ledger.clearinghouse();
    let mut underlyings = portfolio
        .positions
        .iter()
        .filter_map(|p| clearinghouse.market(p.market).map(|m| m.spec.underlying));
    let first = underlyings.next()?;
    if underlyings.any(|u| u != first) {
        return None;
    }
    let underlying = chain.ledger.underlying(first)?;
    let index = underlying.oracle.index_micro_usdc as f64;
    let cushion = |pnl_femto: i128| {
        (risk.equity as f64 + pnl_femto as f64 / 1e9) - risk.margin.maintenance as f64
    };
    // Vol-unchanged scenarios are 3·step + 1, step 0…8 (shock −S … +S).
    let point = |step: usize| {
        let shock = underlying.grid.scenarios[3 * step + 1].spot_shock_ppm as f64 / 1e6;
        (shock, cushion(risk.margin.scenario_pnl_femto[3 * step + 1]))
    };
    let (_, now) = point(4);
    if now < 0.0 {
        return Some(index as u64);
    }
    let crossing = |from: usize, to: usize| -> Option<f64> {
        let (s0, c0) = point(from);
        let (s1, c1) = point(to);
        (c1 < 0.0).then(|| s0 + (s1 - s0) * c0 / (c0 - c1))
    };
    for distance in 1..=4 {
        let down = crossing(4 - distance + 1, 4 - distance);
        let up = crossing(4 + distance - 1, 4 + distance);
        if let Some(shock) = down.or(up) {
            return Some((index * (1.0 + shock)).max(0.0) as u64);
        }
    }
    None
}
