//! The Straddle JSON-RPC API (`docs/spec/rpc.md`): request and response types, error
//! codes and the method list. The same trait generates the server (in the sequencer
//! node) and the typed client that the CLI, the batcher, the proposer, the challenger and
//! the load generators speak.

pub mod errors;
mod market;

pub use market::{
    BookSnapshot, BookUpdate, FillReport, MarketEvent, OrderAck, OrderStatus, OrderUpdate, Trade,
};
pub use straddle_primitives::block::BlockSource;

use alloy_primitives::{Address, B256, Bytes};
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use serde::{Deserialize, Serialize};
use straddle_primitives::{Action, Amount, BlockHeader};

use straddle_state::Proof;

/// An HTTP client of a node's API, with a 30 s request timeout (the CLI, the batcher and
/// the proposer talk to nodes through it).
pub fn http_client(
    url: &str,
) -> Result<jsonrpsee::http_client::HttpClient, jsonrpsee::core::ClientError> {
    jsonrpsee::http_client::HttpClientBuilder::default()
        .request_timeout(std::time::Duration::from_secs(30))
        .build(url)
}

/// Result type of RPC methods.
pub type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// `straddle_sendAction` parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendActionRequest {
    /// Must equal the node's chain id (checked first, for a clear error).
    pub chain_id: u64,
    /// The action, e.g. `{"type":"transfer","to":"0x…","amount":"1000000","nonce":1,"expiryMs":…}`.
    pub action: Action,
    /// 65-byte signature `r ‖ s ‖ v` over the action's EIP-712 digest, hex.
    pub signature: Bytes,
}

/// Finality of a block or transaction: `soft` (sequencer receipt), `safe` (batch on L1),
/// `finalized` (L1-final and past the challenge window). Until the L1 pipeline lands
/// every block is `soft`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Finality {
    /// Sequencer-confirmed.
    Soft,
    /// Its batch is on L1.
    Safe,
    /// Final on L1.
    Finalized,
}

/// A receipt: the acknowledgement of `sendAction`, or a lookup by hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Transaction hash (the EIP-712 digest).
    pub tx_hash: B256,
    /// Recovered signer.
    pub sender: Address,
    /// Block number.
    pub block_number: u64,
    /// Position in the block.
    pub index: u32,
    /// Finality of the block.
    pub status: Finality,
    /// Index of the recorded withdrawal, for withdrawal requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal_index: Option<u64>,
}

/// A transaction inside a block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    /// Transaction hash.
    pub hash: B256,
    /// Recovered sender (zero for an oracle update).
    pub sender: Address,
    /// `action`, `oracleUpdate`, `match`, `matchPlaced`, `placeOrder`, `placeOrders`,
    /// `cancel`, `bulkCancel`, `liquidate`, `autoDeleverage`, `retireOrder`,
    /// `listMarket`, `closeMarket`, `deposit`, `forced` or `undecodable` (a batch item
    /// that did not decode: `docs/spec/batches.md` §4.1).
    pub kind: String,
    /// The action, for user actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// The action's signature, for user actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Bytes>,
    /// The canonical encoding (`docs/spec/transactions.md`).
    pub raw: Bytes,
}

/// A block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockView {
    /// Block hash.
    pub hash: B256,
    /// Header fields.
    #[serde(flatten)]
    pub header: BlockHeader,
    /// Finality.
    pub status: Finality,
    /// Transactions (only with `full = true`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transactions: Vec<TransactionView>,
    /// Transaction hashes.
    pub transaction_hashes: Vec<B256>,
}

/// An account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    /// Address.
    pub address: Address,
    /// Collateral in micro-units.
    pub collateral: Amount,
    /// The nonce window, ascending.
    pub nonces: Vec<u64>,
    /// The state includes transactions up to this block (possibly not yet sealed).
    pub pending_block: u64,
    /// The margin account.
    pub margin: MarginView,
}

/// A margin account: signed amounts are decimal strings of micro-USDC.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarginView {
    /// Cash (negative for a leveraged long).
    pub cash: String,
    /// Cash plus positions at mark.
    pub equity: String,
    /// Maintenance margin.
    pub maintenance: String,
    /// Initial margin.
    pub initial: String,
    /// Equity above initial margin: what can be withdrawn or put at new risk.
    pub free_collateral: String,
    /// Open positions.
    pub positions: Vec<PositionView>,
    /// Account delta, 10^-9 underlying (sum over positions; mixed underlyings add up).
    pub delta_nano: String,
    /// Account gamma, 10^-9 underlying per USDC.
    pub gamma_nano: String,
    /// Account vega per volatility point, nano-USDC.
    pub vega_nano: String,
    /// Account theta per day, nano-USDC.
    pub theta_nano: String,
    /// Index of the worst scenario of the margin grid (`clearinghouse.md` §3.2).
    pub worst_scenario: usize,
    /// Estimated index price (micro-USDC) at which the account becomes liquidatable:
    /// display only, a first-order estimate interpolated on the margin grid's
    /// volatility-unchanged scenarios with today's requirement held fixed (for a long the
    /// requirement falls with the index, so the true level is lower); absent for several
    /// underlyings or beyond the regular shock range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liquidation_index: Option<u64>,
}

/// One position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionView {
    /// Market id.
    pub market: u32,
    /// Signed size, micro-contracts.
    pub size: i64,
    /// Average entry price, micro-USDC per contract.
    pub entry_price: u64,
    /// The market's mark (absent while unpriced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<u64>,
    /// `size·mark − entry cost`, micro-USDC (decimal string; absent while unpriced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrealized_pnl: Option<String>,
}

/// A state proof for an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofView {
    /// Block whose state root the proof opens.
    pub block_number: u64,
    /// That root.
    pub state_root: B256,
    /// Raw state key, hex.
    pub key: Bytes,
    /// `keccak256(key)`: the path.
    pub key_hash: B256,
    /// Leaf value, hex (absent: exclusion proof).
    pub value: Option<Bytes>,
    /// The proof.
    pub proof: Proof,
}

/// The chain heads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainHead {
    /// Chain id.
    pub chain_id: u64,
    /// Latest block committed by this node (the sequencer's, or the last derived).
    pub soft: BlockHeadView,
    /// Latest block a batch on L1 carries (genesis before the first batch, or when the
    /// node reads no L1).
    pub safe: BlockHeadView,
    /// Latest block a batch in a finalized L1 block carries.
    pub finalized: BlockHeadView,
    /// The last L1 block this node's derivation has read completely: every block the
    /// data on L1 up to it derives is in `safe`'s chain (0 when the node reads no L1).
    #[serde(default)]
    pub derived_l1_block: u64,
}

/// One head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockHeadView {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// State root.
    pub state_root: B256,
    /// Timestamp, unix ms.
    pub timestamp_ms: u64,
}

/// An account change pushed to `subscribeAccount` subscribers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUpdate {
    /// Block that changed it.
    pub block_number: u64,
    /// New collateral.
    pub collateral: Amount,
    /// New nonce window.
    pub nonces: Vec<u64>,
}

/// A market with its current risk vector. Prices are micro-USDC per contract; sizes are
/// micro-contracts; Greeks use the risk vector's units (`docs/spec/clearinghouse.md` §3.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarketView {
    /// Market id.
    pub id: u32,
    /// Underlying id.
    pub underlying: u32,
    /// `perpetual`, `call` or `put`.
    pub kind: String,
    /// Strike (options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strike: Option<u64>,
    /// Expiry, unix ms (options).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_ms: Option<u64>,
    /// Price increment.
    pub tick: u64,
    /// Size increment.
    pub lot: u64,
    /// Maker fee, ppm.
    pub maker_fee_ppm: u32,
    /// Taker fee, ppm.
    pub taker_fee_ppm: u32,
    /// `active` or `settled`.
    pub status: String,
    /// Value per contract at settlement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_value: Option<u64>,
    /// Total long size.
    pub open_interest: u64,
    /// Last fill price (0 before the first).
    pub last_price: u64,
    /// Cumulative funding per contract, nano-USDC (decimal string).
    pub funding_index: String,
    /// Mark price, micro-USDC (absent without a risk vector: trading halted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<u64>,
    /// Delta per contract, 10^-9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_nano: Option<i64>,
    /// Gamma, 10^-9 underlying per USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma_nano: Option<i64>,
    /// Vega per volatility point, nano-USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vega_nano: Option<i64>,
    /// Theta per day, nano-USDC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theta_nano: Option<i64>,
    /// Volatility of the mark, ppm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma_ppm: Option<i64>,
}

/// An underlying's accepted oracle state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OracleView {
    /// Underlying id.
    pub underlying: u32,
    /// Its symbol.
    pub symbol: String,
    /// Index price, micro-USDC (0 before the first update).
    pub index: u64,
    /// Observation time, unix ms.
    pub timestamp_ms: u64,
    /// Smile per expiry: `[expiryMs, atmVolPpm, skewPpm, curvaturePpm]`.
    pub smiles: Vec<(u64, u32, i32, u32)>,
}

/// One transaction for the L1 one-step prover (`DisputeGame.step`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    /// State root before the transaction.
    pub pre_root: B256,
    /// Its block.
    pub block_number: u64,
    /// That block's time, unix milliseconds.
    pub timestamp_ms: u64,
    /// Its canonical bytes.
    pub transaction: Bytes,
    /// The prover's packed witness (`docs/spec/disputes.md` §4).
    pub witness: Bytes,
    /// Its proof against the block's transactions root, bottom up.
    pub siblings: Vec<B256>,
}

/// The chain's forced queue after a block, proven against its state root
/// (`DisputeGame.disputeForcedBlock`, `disputeEarlierSource`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForcedQueueView {
    /// The block.
    pub block_number: u64,
    /// Its state root.
    pub state_root: B256,
    /// The next forced index the chain includes (forced transactions included so far).
    pub next: u64,
    /// The prover's packed witness of the queue leaf (`0x09`) against `state_root`.
    pub witness: Bytes,
}

/// One sub-step of an oracle update for the L1 prover (`DisputeGame.subStep`,
/// `docs/spec/disputes.md` §4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubStepView {
    /// State root before the sub-step.
    pub pre_root: B256,
    /// The block's time, unix milliseconds.
    pub timestamp_ms: u64,
    /// The update's canonical bytes.
    pub transaction: Bytes,
    /// Which sub-step, from 1.
    pub sub_step: u64,
    /// How many the update takes.
    pub count: u64,
    /// The prover's packed witness.
    pub witness: Bytes,
}

/// A withdrawal with its proof against one block's state root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WithdrawalProofView {
    /// Its index.
    pub index: u64,
    /// The L2 account debited.
    pub account: Address,
    /// The L1 recipient.
    pub recipient: Address,
    /// Micro-units.
    pub amount: Amount,
    /// The L2 block that recorded it.
    pub l2_block_number: u64,
    /// The block the proof is against.
    pub block_number: u64,
    /// Its state root.
    pub state_root: B256,
    /// Its hash.
    pub block_hash: B256,
    /// Merkle siblings, root side first.
    pub siblings: Vec<B256>,
}

/// A block reference: a number, `"latest"`, or a 32-byte hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BlockRef {
    /// By number.
    Number(u64),
    /// By hash.
    Hash(B256),
    /// `"latest"`.
    Tag(String),
}

/// Market figures for a ticker: prices in micro-USDC, Greeks per contract in nano-units.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TickerView {
    /// Market.
    pub market: u32,
    /// The committed block these figures are as of.
    pub block_number: u64,
    /// Mark (`None` before the first oracle update).
    pub mark: Option<u64>,
    /// Underlying index.
    pub index: u64,
    /// Last trade price.
    pub last_price: u64,
    /// Best bid and ask `(price, size)` on the sequencer's book.
    pub best_bid: Option<(u64, u64)>,
    /// Best ask.
    pub best_ask: Option<(u64, u64)>,
    /// Perpetuals: funding rate per 8-hour period, ppm of the index (mark − index) /
    /// index; longs pay when positive.
    pub funding_rate_ppm: Option<i64>,
    /// Open interest, micro-contracts.
    pub open_interest: u64,
    /// Delta.
    pub delta_nano: Option<i64>,
    /// Gamma.
    pub gamma_nano: Option<i64>,
    /// Vega.
    pub vega_nano: Option<i64>,
    /// Theta.
    pub theta_nano: Option<i64>,
    /// Options: the implied volatility the mark uses, ppm.
    pub implied_vol_ppm: Option<i64>,
}

/// An update of one account's own stream: its orders, its fills, and its margin after
/// each committed block that changed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserEvent {
    /// One of the account's orders changed.
    Order(OrderUpdate),
    /// The account traded.
    Fill(Trade),
    /// Positions and margin after a committed block.
    Margin(MarginView),
}

/// The Straddle JSON-RPC API (namespace `straddle_`).
#[rpc(server, client, namespace = "straddle")]
pub trait StraddleApi {
    /// Chain id.
    #[method(name = "chainId")]
    async fn chain_id(&self) -> RpcResult<u64>;

    /// The chain heads.
    #[method(name = "chainHead")]
    async fn chain_head(&self) -> RpcResult<ChainHead>;

    /// Validates, executes and durably logs a signed action; returns its receipt.
    #[method(name = "sendAction")]
    async fn send_action(&self, request: SendActionRequest) -> RpcResult<Receipt>;

    /// Like `sendAction` for any transaction in its canonical encoding (hex): oracle
    /// updates, matches of signed orders, cancels (`docs/spec/transactions.md`).
    #[method(name = "sendTransaction")]
    async fn send_transaction(&self, raw: Bytes) -> RpcResult<Receipt>;

    /// The EIP-712 typed-data document of an action, for signing with any wallet.
    #[method(name = "typedData")]
    async fn typed_data(&self, action: Action) -> RpcResult<serde_json::Value>;

    /// An account, including transactions not yet sealed into a block.
    #[method(name = "getAccount")]
    async fn get_account(&self, address: Address) -> RpcResult<AccountView>;

    /// Every market with its current risk vector.
    #[method(name = "getMarkets")]
    async fn get_markets(&self) -> RpcResult<Vec<MarketView>>;

    /// Every underlying's accepted oracle state.
    #[method(name = "getOracles")]
    async fn get_oracles(&self) -> RpcResult<Vec<OracleView>>;

    /// A block; `full` includes the transactions.
    #[method(name = "getBlock")]
    async fn get_block(&self, block: BlockRef, full: Option<bool>) -> RpcResult<Option<BlockView>>;

    /// A receipt by transaction hash (once its block is committed).
    #[method(name = "getReceipt")]
    async fn get_receipt(&self, tx_hash: B256) -> RpcResult<Option<Receipt>>;

    /// A Merkle proof of an account leaf against the last sealed state root.
    #[method(name = "getProof")]
    async fn get_proof(&self, address: Address) -> RpcResult<ProofView>;

    /// Withdrawal `index` and its proof against block `blockNumber`'s state root (the
    /// block of a finalized L1 output): what `Portal.finalizeWithdrawal` takes.
    #[method(name = "getWithdrawalProof")]
    async fn get_withdrawal_proof(
        &self,
        index: u64,
        block_number: u64,
    ) -> RpcResult<WithdrawalProofView>;

    /// Block `blockNumber`'s state roots at each position of a dispute's transaction
    /// level: its parent's root, then the root after each transaction.
    #[method(name = "getBlockPositions")]
    async fn get_block_positions(&self, block_number: u64) -> RpcResult<Vec<B256>>;

    /// Where derivation took block `blockNumber` from (the batch that first carried it
    /// onto the chain, or derivation's own block of forced transactions); `null` for a
    /// block no batch has carried yet (or on a node without L1 derivation).
    #[method(name = "getBlockSource")]
    async fn get_block_source(&self, block_number: u64) -> RpcResult<Option<BlockSource>>;

    /// The chain's forced queue after block `blockNumber` with its proof: the next forced
    /// index, which derivation's forced blocks depend on.
    #[method(name = "getForcedQueue")]
    async fn get_forced_queue(&self, block_number: u64) -> RpcResult<ForcedQueueView>;

    /// What the dispute game's `step` needs for transaction `index` of block
    /// `blockNumber`: the one-step prover's input and the transaction's proof.
    #[method(name = "getStep")]
    async fn get_step(&self, block_number: u64, index: u64) -> RpcResult<StepView>;

    /// The state roots at each position of the dispute game's sub-step level of oracle
    /// update `index` of block `blockNumber`: before the update, then after each of its
    /// sub-steps (one per active market of its underlying, the highest id first, then
    /// its oracle state).
    #[method(name = "getSubStepPositions")]
    async fn get_sub_step_positions(&self, block_number: u64, index: u64) -> RpcResult<Vec<B256>>;

    /// What the dispute game's `subStep` needs for sub-step `subStep` (from 1) of oracle
    /// update `index` of block `blockNumber`.
    #[method(name = "getSubStep")]
    async fn get_sub_step(
        &self,
        block_number: u64,
        index: u64,
        sub_step: u64,
    ) -> RpcResult<SubStepView>;

    /// Submits a signed order (the canonical encoding of a kind-0x1A transaction, hex) to
    /// the matching engine: it matches against the book, and its remainder rests if its
    /// time in force allows. Answers once everything it caused is durable.
    #[method(name = "placeOrder")]
    async fn place_order(&self, raw: Bytes) -> RpcResult<OrderAck>;

    /// A market's book: best `levels` per side (all when omitted) and the update
    /// number it includes (`docs/spec/feeds.md`).
    #[method(name = "getBook")]
    async fn get_book(&self, market: u32, levels: Option<usize>) -> RpcResult<BookSnapshot>;

    /// An account's resting orders.
    #[method(name = "openOrders")]
    async fn open_orders(&self, owner: Address) -> RpcResult<Vec<OrderUpdate>>;

    /// A market's ticker now.
    #[method(name = "getTicker")]
    async fn get_ticker(&self, market: u32) -> RpcResult<TickerView>;

    /// Changed levels of a market's book, numbered; start from `getBook` and apply
    /// every update with a larger number.
    #[subscription(name = "subscribeBook" => "bookUpdate", unsubscribe = "unsubscribeBook", item = BookUpdate)]
    async fn subscribe_book(&self, market: u32) -> SubscriptionResult;

    /// Trades of a market.
    #[subscription(name = "subscribeTrades" => "trade", unsubscribe = "unsubscribeTrades", item = Trade)]
    async fn subscribe_trades(&self, market: u32) -> SubscriptionResult;

    /// A market's ticker after every committed block.
    #[subscription(name = "subscribeTicker" => "ticker", unsubscribe = "unsubscribeTicker", item = TickerView)]
    async fn subscribe_ticker(&self, market: u32) -> SubscriptionResult;

    /// One account's orders, fills and margin.
    #[subscription(name = "subscribeUser" => "userEvent", unsubscribe = "unsubscribeUser", item = UserEvent)]
    async fn subscribe_user(&self, address: Address) -> SubscriptionResult;

    /// New committed blocks.
    #[subscription(name = "subscribeNewBlocks" => "newBlock", unsubscribe = "unsubscribeNewBlocks", item = BlockView)]
    async fn subscribe_new_blocks(&self) -> SubscriptionResult;

    /// Changes of one account, per committed block.
    #[subscription(name = "subscribeAccount" => "accountUpdate", unsubscribe = "unsubscribeAccount", item = AccountUpdate)]
    async fn subscribe_account(&self, address: Address) -> SubscriptionResult;
}
