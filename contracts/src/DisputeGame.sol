// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Length (over 800 lines): every move (bisection, derivation moves, steps, timeouts,
// bonds) reads and writes one game record and one pair of clocks; one contract keeps that
// storage layout and the clock rules in one place (docs/spec/disputes.md).

import {BatchOpener} from "./BatchOpener.sol";
import {IForcedQueue, IStepProver, ISubStepProver} from "./ProverInterfaces.sol";
import {Bonds} from "./Bonds.sol";
import {L2Block} from "./L2Block.sol";
import {OutputRegistry} from "./OutputRegistry.sol";
import {SourceRules} from "./SourceRules.sol";

/// @title DisputeGame
/// @notice Proves an output root of the OutputRegistry wrong, or defends it, by bisection
/// (docs/spec/disputes.md). A challenger opens a dispute on an output inside its
/// challenge window with a bond and names a final output (or the genesis) as the agreed
/// anchor. The dispute is played as one game per defender: the output's proposer's, and
/// one for anyone who takes the output's side with a bond (`defend`) while the defenders'
/// clock, which runs from the opening, has time left. In each game the defender posts
/// the claim at the middle of the disputed segment, the challenger agrees or disagrees,
/// until one step is left: over L2 block hashes first, then, inside the block found,
/// over the state roots after each transaction, where the one-step prover decides (an
/// oracle update, too heavy for one step, is bisected once more over its sub-steps).
/// Each side has a chess clock; the side to move that lets it run out loses (`timeout`).
/// The first defender to win ends the dispute: the output stays and that defender is
/// credited the winner's half of the challenger's bond. The challenger must win every
/// game: then the output is removed (later outputs stay) and it is credited its bond and
/// the winner's half of the proposer's; each joined defender it beats pays it the
/// winner's half of its bond. The other half of a losing bond is burnt (`Bonds`). Credit
/// is paid by pull (`claimCredit`).
contract DisputeGame {
    /// @notice What the game is bisecting.
    enum Level {
        Blocks,
        Transactions,
        SubSteps
    }

    /// @notice Where the defender says derivation took the disputed block from (the
    /// parity of the block's position).
    enum Source {
        None,
        /// @notice The inbox batch `sourceIndex` (position `2·sourceIndex + 1`).
        Batch,
        /// @notice Derivation's own block for the Portal's forced record `sourceIndex`,
        /// overdue: that one transaction, at the record's L1 time or the parent's if later
        /// (position `2·c`, `c` the batch it goes before).
        Forced
    }

    /// @notice Where a game stands.
    enum Status {
        Open,
        ChallengerWon,
        DefenderWon,
        Cancelled
    }

    /// @notice One dispute: a challenger against an output, played as one game per
    /// defender. `gamesLive` counts its games not yet ended.
    struct Dispute {
        uint256 outputIndex;
        address challenger;
        /// @notice The challenger's bond.
        uint96 bond;
        uint64 anchorBlock;
        uint64 openedAt;
        uint32 gamesLive;
        Status status;
        bytes32 anchorClaim;
    }

    /// @notice One game: the dispute's challenger against one defender. Claims at `lo`
    /// are agreed, claims at `hi` disputed. At the block level a claim is
    /// `blockClaim(blockHash, position)`; once the block is revealed, `loClaim` and
    /// `hiClaim` hold the parent's and the block's hashes.
    struct Game {
        uint256 outputIndex;
        /// @notice The output's L1 head: the game judges derivation from L1 up to it.
        uint64 l1Head;
        address challenger;
        address defender;
        /// @notice The defender's bond (zero for the proposer's game: its bond is the
        /// output's, held by the registry).
        uint96 bond;
        Level level;
        Status status;
        bool defenderToMove;
        bool midPosted;
        uint64 lo;
        uint64 hi;
        bytes32 loClaim;
        bytes32 hiClaim;
        bytes32 midClaim;
        uint64 challengerClock;
        uint64 defenderClock;
        uint64 lastMoveAt;
        bool blockRevealed;
        uint64 blockNumber;
        uint64 blockTimestampMs;
        uint32 transactionCount;
        bytes32 transactionsRoot;
        bytes32 parentStateRoot;
        bytes32 blockStateRoot;
    }

    /// @notice A game's derivation side, once the block is revealed: the source the
    /// defender named and, when the challenger disputes the block's transactions, the
    /// descent of the defender's transactions tree (levels `contentLevels`) to a leaf
    /// whose transaction is not the source's. `contentNode` is the node at depth
    /// `contentDepth`, index `contentIndex`; `childrenPosted` once the defender has shown
    /// its two children.
    struct Derivation {
        Source source;
        uint64 sourceIndex;
        uint64 parentTimestampMs;
        uint64 parentPosition;
        uint64 position;
        bool contentDisputed;
        bool childrenPosted;
        uint8 contentLevels;
        uint8 contentDepth;
        uint64 contentIndex;
        bytes32 contentNode;
        bytes32 leftChild;
        bytes32 rightChild;
    }

    /// @notice The transaction a game's sub-step level runs inside: its index in the
    /// block, the hash of its bytes and its number of sub-steps.
    struct SubLevel {
        uint64 transactionIndex;
        bytes32 transactionHash;
        uint64 count;
    }

    /// @notice Pass as the anchor to agree on the genesis block.
    uint256 public constant GENESIS = type(uint256).max;

    /// @notice The registry whose outputs are disputed (its resolver is this contract).
    OutputRegistry public immutable registry;
    /// @notice Re-executes the transaction a game narrows down to.
    IStepProver public immutable prover;
    /// @notice Hash of L2 block 0.
    bytes32 public immutable genesisBlockHash;
    /// @notice Seconds each side may spend on its moves over a whole game.
    uint64 public immutable clockSeconds;
    /// @notice Proves what a posted batch says a block holds (derivation faults).
    BatchOpener public immutable opener;
    /// @notice Judges where derivation takes a block from (derivation faults).
    SourceRules public immutable rules;

    Dispute[] private disputes;
    Game[] private games;
    /// @notice The dispute each game belongs to, by game id.
    mapping(uint256 => uint256) public disputeOf;
    mapping(uint256 => Derivation) private derivations;
    mapping(uint256 => SubLevel) private subLevels;

    /// @notice Wei each address can claim (bonds won or returned).
    mapping(address => uint256) public credit;
    /// @notice Wei burnt: the burnt halves of losing challengers' bonds (`Bonds.split`),
    /// held here for ever.
    uint256 public burnt;

    /// @notice A dispute was opened on output `outputIndex`.
    event DisputeOpened(uint256 indexed disputeId, uint256 indexed outputIndex, address challenger);
    /// @notice A game of dispute `disputeId` began between its challenger and `defender`
    /// over L2 blocks `lo`..`hi`.
    event GameOpened(uint256 indexed gameId, uint256 indexed disputeId, address defender, uint64 lo, uint64 hi);
    /// @notice The defender claimed `claim` at position `mid`.
    event MidpointClaimed(uint256 indexed gameId, Level level, uint64 mid, bytes32 claim);
    /// @notice The challenger answered; the disputed segment is now `lo`..`hi`.
    event Answered(uint256 indexed gameId, Level level, bool agreed, uint64 lo, uint64 hi);
    /// @notice The defender revealed the header of the disputed block, its position and
    /// its source.
    event BlockRevealed(
        uint256 indexed gameId, uint64 blockNumber, uint32 transactionCount, uint64 position, uint64 sourceIndex
    );
    /// @notice The challenger disputed the revealed block's transactions.
    event ContentDisputed(uint256 indexed gameId, uint64 blockNumber, uint8 levels);
    /// @notice The defender showed the children of the disputed node.
    event ChildrenRevealed(uint256 indexed gameId, uint8 depth, uint64 index, bytes32 left, bytes32 right);
    /// @notice The challenger chose the child it disputes.
    event Descended(uint256 indexed gameId, uint8 depth, uint64 index, bytes32 node);
    /// @notice The challenger proved the revealed block is not what its source says.
    event DerivationFaultProven(uint256 indexed gameId, uint64 blockNumber);
    /// @notice The challenger disputed the disputed block's execution.
    event ExecutionDisputed(uint256 indexed gameId, uint64 blockNumber, bytes32 parentStateRoot, bytes32 stateRoot);
    /// @notice The one-step prover ran transaction `index` and computed `postRoot`.
    event Stepped(uint256 indexed gameId, uint64 index, bytes32 postRoot, bytes32 claimed);
    /// @notice The challenger disputed oracle update `transactionIndex` of the block
    /// sub-step by sub-step: positions `0` … `count`.
    event SubStepsDisputed(uint256 indexed gameId, uint64 transactionIndex, uint64 count);
    /// @notice The prover ran sub-step `index` of the disputed update and computed
    /// `postRoot`.
    event SubStepped(uint256 indexed gameId, uint64 index, bytes32 postRoot, bytes32 claimed);
    /// @notice The game ended.
    event GameResolved(uint256 indexed gameId, Status status);
    /// @notice The dispute ended: a defender won, the challenger won every game, or the
    /// output was removed by something else.
    event DisputeResolved(uint256 indexed disputeId, Status status);
    /// @notice An output's block header contradicted its state root or block number.
    event OutputMismatchProven(uint256 indexed outputIndex, address prover);
    /// @notice Credit was paid out.
    event CreditClaimed(address indexed account, uint256 amount);

    /// @notice A zero address where one is required.
    error ZeroAddress();
    /// @notice The bond sent is below the registry's `requiredBond()` (or does not fit 96
    /// bits).
    error WrongBond(uint256 sent, uint256 required);
    /// @notice No output at this index.
    error UnknownOutput(uint256 index);
    /// @notice The output's challenge window has passed.
    error WindowClosed(uint256 outputIndex);
    /// @notice The anchor is not a final output before the disputed one.
    error BadAnchor(uint256 anchorIndex);
    /// @notice No game with this id.
    error UnknownGame(uint256 gameId);
    /// @notice No dispute with this id.
    error UnknownDispute(uint256 disputeId);
    /// @notice The dispute has ended.
    error DisputeOver(uint256 disputeId);
    /// @notice The defenders' clock of the dispute has run out: no one may join now.
    error DefenseClosed(uint256 disputeId);
    /// @notice The dispute cannot end yet: games are live, or defenders may still join.
    error DisputeUndecided(uint256 disputeId);
    /// @notice The game has ended.
    error GameOver(uint256 gameId);
    /// @notice The disputed output was removed; the game can only be cancelled.
    error OutputGone(uint256 gameId);
    /// @notice The output is still there; the game cannot be cancelled.
    error OutputStillThere(uint256 gameId);
    /// @notice It is not the caller's turn (or not this move's).
    error NotYourMove();
    /// @notice The move names another segment than the game's.
    error StaleSegment(uint64 lo, uint64 hi);
    /// @notice The move is for another level or stage of the game.
    error WrongStage();
    /// @notice The mover's clock ran out; call `timeout`.
    error ClockExpired();
    /// @notice The side to move still has time.
    error ClockRunning(uint64 remaining);
    /// @notice A revealed header does not match the claims.
    error HeaderMismatch();
    /// @notice The transaction is not the one at the disputed index.
    error TransactionNotInBlock();
    /// @notice The header agrees with the output.
    error NoMismatch();
    /// @notice Nothing to claim.
    error NoCredit();
    /// @notice Sending ether failed.
    error PaymentFailed();
    /// @notice The evidence agrees with the defender's block.
    error NoFault();
    /// @notice Only an oracle update (kind 0x10) has sub-steps; other kinds take `step`.
    error NotAnOracleUpdate();

    /// @param registry_ The registry; its resolver must be this contract.
    /// @param prover_ The one-step prover.
    /// @param genesisBlockHash_ Hash of L2 block 0.
    /// @param clockSeconds_ Each side's time for a whole game.
    /// @param rules_ The source rules of the chain (its batch opener is theirs).
    constructor(
        OutputRegistry registry_,
        IStepProver prover_,
        bytes32 genesisBlockHash_,
        uint64 clockSeconds_,
        SourceRules rules_
    ) {
        if (address(registry_) == address(0) || address(prover_) == address(0) || address(rules_) == address(0)) {
            revert ZeroAddress();
        }
        registry = registry_;
        prover = prover_;
        genesisBlockHash = genesisBlockHash_;
        clockSeconds = clockSeconds_;
        rules = rules_;
        opener = rules_.opener();
    }

    // ---------------------------------------------------------------- opening

    /// @notice Disputes output `outputIndex`, agreeing with output `anchorIndex` (final,
    /// earlier) or with the genesis (`GENESIS`). Carries a bond of at least the registry's
    /// `requiredBond()`. The dispute's id is the number of disputes before it; its first
    /// game is against the output's proposer.
    /// @return gameId The proposer's game.
    function open(uint256 outputIndex, uint256 anchorIndex) external payable returns (uint256 gameId) {
        uint96 bond = takeBond();
        if (outputIndex >= registry.outputCount()) revert UnknownOutput(outputIndex);
        if (!registry.inChallengeWindow(outputIndex)) revert WindowClosed(outputIndex);
        (uint64 anchorBlock, bytes32 anchorClaim) = anchorOf(outputIndex, anchorIndex);

        uint256 disputeId = disputes.length;
        Dispute storage dispute = disputes.push();
        dispute.outputIndex = outputIndex;
        dispute.challenger = msg.sender;
        dispute.bond = bond;
        dispute.anchorBlock = anchorBlock;
        dispute.anchorClaim = anchorClaim;
        dispute.openedAt = uint64(block.timestamp);
        registry.disputeOpened(outputIndex);
        emit DisputeOpened(disputeId, outputIndex, msg.sender);
        return startGame(disputeId, dispute, registry.getOutput(outputIndex).proposer, 0);
    }

    /// @notice Takes the output's side in dispute `disputeId` with a bond of at least the
    /// registry's `requiredBond()`: a game of the caller against the dispute's challenger,
    /// from the anchor to the output. The defenders' clock runs from the dispute's
    /// opening, so one who joins late has less of it left and none may join once it has
    /// run out. A correct output thus has a defender as long as anyone honest is there,
    /// while a wrong one is removed only after its challenger has beaten every defender.
    /// @return gameId The caller's game.
    function defend(uint256 disputeId) external payable returns (uint256 gameId) {
        uint96 bond = takeBond();
        Dispute storage dispute = openDispute(disputeId);
        if (!defenseOpen(dispute)) revert DefenseClosed(disputeId);
        return startGame(disputeId, dispute, msg.sender, bond);
    }

    /// @notice Ends dispute `disputeId` once none of its games is live: for the
    /// challenger once the defenders' clock has run out (it won every game: the output is
    /// removed), or cancelled if the output was removed meanwhile (its bond returned).
    function resolveDispute(uint256 disputeId) external {
        Dispute storage dispute = openDispute(disputeId);
        if (dispute.gamesLive != 0) revert DisputeUndecided(disputeId);
        if (registry.getOutput(dispute.outputIndex).removed) {
            endDispute(disputeId, dispute, Status.Cancelled);
        } else {
            if (defenseOpen(dispute)) revert DisputeUndecided(disputeId);
            endDispute(disputeId, dispute, Status.ChallengerWon);
        }
    }

    /// @notice Removes output `outputIndex` at once, without a game, when `header` hashes
    /// to its block hash but names another block number or state root. The caller is
    /// credited the proposer's bond.
    function proveOutputMismatch(uint256 outputIndex, bytes calldata header) external {
        if (outputIndex >= registry.outputCount()) revert UnknownOutput(outputIndex);
        OutputRegistry.Output memory output = registry.getOutput(outputIndex);
        (L2Block.Header memory decoded, bytes32 hash) = L2Block.decode(header);
        if (hash != output.blockHash) revert HeaderMismatch();
        if (decoded.number == output.l2BlockNumber && decoded.stateRoot == output.stateRoot) revert NoMismatch();
        registry.invalidate(outputIndex, msg.sender);
        emit OutputMismatchProven(outputIndex, msg.sender);
    }

    // ---------------------------------------------------------------- bisection

    /// @notice The defender claims `claim` at the middle of the segment `lo`..`hi`: a
    /// block's hash and position (`blockClaim`) at the block level, a state root below.
    function claimMidpoint(uint256 gameId, uint64 lo, uint64 hi, bytes32 claim) external {
        Game storage game = live(gameId, lo, hi);
        if (hi - lo < 2 || game.midPosted) revert WrongStage();
        spendClock(game, true);
        game.midClaim = claim;
        game.midPosted = true;
        game.defenderToMove = false;
        emit MidpointClaimed(gameId, game.level, midpoint(lo, hi), claim);
    }

    /// @notice The challenger agrees (the segment becomes its upper half) or disagrees
    /// (its lower half) with the defender's claim at the middle of `lo`..`hi`.
    function answer(uint256 gameId, uint64 lo, uint64 hi, bool agree) external {
        Game storage game = live(gameId, lo, hi);
        if (!game.midPosted) revert WrongStage();
        spendClock(game, false);
        uint64 mid = midpoint(lo, hi);
        if (agree) {
            game.lo = mid;
            game.loClaim = game.midClaim;
        } else {
            game.hi = mid;
            game.hiClaim = game.midClaim;
        }
        game.midPosted = false;
        game.midClaim = bytes32(0);
        // One block left: the defender reveals it. One transaction left: the challenger
        // runs it through the prover. Otherwise the defender claims the next midpoint.
        game.defenderToMove = game.hi - game.lo > 1 || game.level == Level.Blocks;
        emit Answered(gameId, game.level, agree, game.lo, game.hi);
    }

    /// @notice Once the block level has narrowed to one block, the defender reveals the
    /// headers and positions of that block (`header`, `position`: the disputed claim) and
    /// of its parent (the agreed claim). The position's parity names the source: an odd
    /// one the batch `(position − 1) / 2`, an even one a forced block, whose Portal record
    /// the defender names as `forcedRecord` (ignored for a batch).
    function revealBlock(
        uint256 gameId,
        bytes calldata parentHeader,
        uint64 parentPosition,
        bytes calldata header,
        uint64 position,
        uint64 forcedRecord
    ) external {
        Game storage game = live(gameId);
        if (game.level != Level.Blocks || game.hi - game.lo != 1 || game.blockRevealed) revert WrongStage();
        spendClock(game, true);
        uint64 parentTimestampMs = acceptHeaders(game, parentHeader, parentPosition, header, position);
        bool batch = position % 2 == 1;
        Derivation storage d = derivations[gameId];
        d.source = batch ? Source.Batch : Source.Forced;
        d.sourceIndex = batch ? position / 2 : forcedRecord;
        d.parentTimestampMs = parentTimestampMs;
        d.parentPosition = parentPosition;
        d.position = position;
        game.defenderToMove = false;
        emit BlockRevealed(gameId, game.blockNumber, game.transactionCount, position, d.sourceIndex);
    }

    /// @dev Checks the revealed headers and positions against the block-level claims and
    /// keeps the block's fields (the claims become the two block hashes); returns the
    /// parent's time.
    function acceptHeaders(
        Game storage game,
        bytes calldata parentHeader,
        uint64 parentPosition,
        bytes calldata header,
        uint64 position
    ) private returns (uint64) {
        (L2Block.Header memory parent, bytes32 parentHash) = L2Block.decode(parentHeader);
        (L2Block.Header memory block_, bytes32 hash) = L2Block.decode(header);
        if (
            blockClaim(parentHash, parentPosition) != game.loClaim || blockClaim(hash, position) != game.hiClaim
                || block_.parentHash != parentHash || parent.number != game.lo || block_.number != game.hi
        ) revert HeaderMismatch();
        game.blockRevealed = true;
        game.blockNumber = block_.number;
        game.blockTimestampMs = block_.timestampMs;
        game.transactionCount = block_.transactionCount;
        game.transactionsRoot = block_.transactionsRoot;
        game.parentStateRoot = parent.stateRoot;
        game.blockStateRoot = block_.stateRoot;
        game.loClaim = parentHash;
        game.hiClaim = hash;
        return parent.timestampMs;
    }

    /// @notice The challenger says the revealed block's transactions do not lead from its
    /// parent's state root to its own: the game bisects over the state roots after each
    /// transaction (position 0: the parent's root, agreed; position `count`: the block's).
    function disputeExecution(uint256 gameId) external {
        Game storage game = live(gameId);
        if (game.level != Level.Blocks || !game.blockRevealed || derivations[gameId].contentDisputed) {
            revert WrongStage();
        }
        spendClock(game, false);
        bytes32 parentStateRoot = game.parentStateRoot;
        bytes32 stateRoot = game.blockStateRoot;
        game.level = Level.Transactions;
        game.lo = 0;
        game.hi = game.transactionCount;
        game.loClaim = parentStateRoot;
        game.hiClaim = stateRoot;
        emit ExecutionDisputed(gameId, game.blockNumber, parentStateRoot, stateRoot);
        if (game.hi == 0) {
            // An empty block changes nothing.
            resolve(gameId, game, parentStateRoot == stateRoot ? Status.DefenderWon : Status.ChallengerWon);
            return;
        }
        game.defenderToMove = game.hi > 1;
    }

    // ---------------------------------------------------------------- derivation

    /// @notice The challenger shows that the batch the defender named as the revealed
    /// block's source (position `2b + 1`) is not where derivation takes it
    /// (`SourceRules.batchBlockFault`: the parent's batch not carrying it, another batch
    /// that does not exist, is malformed or does not link there, a position before the
    /// parent's, another time or transaction count). `blobs`: the batch was posted in
    /// blobs and `opening` holds the field elements of its header and block list (as
    /// `BatchOpener.describeBlobs` takes them); else `opening` is the calldata batch.
    function disputeBatchBlock(uint256 gameId, bytes calldata opening, bool blobs) external {
        (Game storage game, Derivation storage d) = derivationMove(gameId, Source.Batch);
        derivationFault(gameId, game, rules.batchBlockFault(revealed(game, d), opening, blobs));
    }

    /// @notice The challenger shows that the forced block the defender revealed is not
    /// the one derivation makes for the Portal's record it names
    /// (`SourceRules.forcedBlockFault`): the record does not exist or is not the chain's
    /// next (the forced queue of the parent's state, proven by `queueWitness`), the block
    /// does not hold one transaction at the record's L1 time (ms) or its parent's if
    /// later, or its position is not the record's or comes before the parent's.
    function disputeForcedBlock(uint256 gameId, bytes calldata queueWitness) external {
        (Game storage game, Derivation storage d) = derivationMove(gameId, Source.Forced);
        derivationFault(
            gameId, game, rules.forcedBlockFault(revealed(game, d), d.sourceIndex, nextForced(game, queueWitness))
        );
    }

    /// @notice The challenger shows a source derivation takes before the defender's:
    /// position `earlier`, at or after the parent's and before the revealed block's, is a
    /// candidate (`SourceRules.candidate`); for an even one the chain's next forced record
    /// comes from the parent's state through `queueWitness`. `opening`, `blobs`: the
    /// batch's header and block list for an odd `earlier`, as for `disputeBatchBlock`.
    function disputeEarlierSource(
        uint256 gameId,
        uint64 earlier,
        bytes calldata queueWitness,
        bytes calldata opening,
        bool blobs
    ) external {
        (Game storage game, Derivation storage d) = derivationMove(gameId, Source.None);
        uint64 next = earlier % 2 == 0 ? nextForced(game, queueWitness) : 0;
        derivationFault(gameId, game, rules.earlierCandidate(revealed(game, d), earlier, next, opening, blobs));
    }

    /// @dev The revealed block and its parent as `SourceRules` takes them.
    function revealed(Game storage game, Derivation storage d) private view returns (SourceRules.Revealed memory) {
        return SourceRules.Revealed(
            game.blockNumber,
            game.blockTimestampMs,
            game.transactionCount,
            d.position,
            game.loClaim,
            d.parentTimestampMs,
            d.parentPosition,
            game.l1Head
        );
    }

    /// @dev The chain's next forced index in the revealed block's parent state.
    function nextForced(Game storage game, bytes calldata queueWitness) private view returns (uint64) {
        return IForcedQueue(address(prover)).forcedQueueCount(game.parentStateRoot, queueWitness);
    }

    /// @notice Ends the game for the challenger if `fault`, else reverts (`NoFault`).
    function derivationFault(uint256 gameId, Game storage game, bool fault) private {
        if (!fault) revert NoFault();
        emit DerivationFaultProven(gameId, game.blockNumber);
        resolve(gameId, game, Status.ChallengerWon);
    }

    /// @notice The challenger says the revealed block's transactions are not its
    /// source's: the defender shows the children of its transactions root, the
    /// challenger picks the one it disputes, and so on down to one transaction, which
    /// the challenger then proves is not the source's (`proveBatchTransaction`,
    /// `proveForcedTransaction`).
    function disputeContent(uint256 gameId) external {
        (Game storage game, Derivation storage d) = derivationMove(gameId, Source.None);
        if (game.transactionCount == 0) revert WrongStage();
        uint256 levels = L2Block.depth(game.transactionCount);
        d.contentDisputed = true;
        // casting to 'uint8' is safe because a count of 32 bits has at most 32 levels
        // forge-lint: disable-next-line(unsafe-typecast)
        d.contentLevels = uint8(levels);
        d.contentNode = game.transactionsRoot;
        game.defenderToMove = levels > 0;
        emit ContentDisputed(gameId, game.blockNumber, d.contentLevels);
    }

    /// @notice The defender shows the two children of the disputed node of its
    /// transactions tree.
    function revealChildren(uint256 gameId, bytes32 left, bytes32 right) external {
        Game storage game = live(gameId);
        Derivation storage d = derivations[gameId];
        if (!d.contentDisputed || d.childrenPosted || d.contentDepth == d.contentLevels) revert WrongStage();
        spendClock(game, true);
        if (keccak256(abi.encodePacked(left, right)) != d.contentNode) revert HeaderMismatch();
        d.leftChild = left;
        d.rightChild = right;
        d.childrenPosted = true;
        game.defenderToMove = false;
        emit ChildrenRevealed(gameId, d.contentDepth, d.contentIndex, left, right);
    }

    /// @notice The challenger disputes the left or the right child. A child whose leaves
    /// are all past the block's transaction count must be zero: a non-zero one loses
    /// the game for the defender at once.
    function descend(uint256 gameId, bool right) external {
        Game storage game = live(gameId);
        Derivation storage d = derivations[gameId];
        if (!d.contentDisputed || !d.childrenPosted) revert WrongStage();
        spendClock(game, false);
        bytes32 node = right ? d.rightChild : d.leftChild;
        uint64 index = d.contentIndex * 2 + (right ? 1 : 0);
        uint8 depth = d.contentDepth + 1;
        uint256 firstLeaf = uint256(index) << (d.contentLevels - depth);
        if (firstLeaf >= game.transactionCount) {
            derivationFault(gameId, game, node != bytes32(0));
            return;
        }
        d.contentNode = node;
        d.contentIndex = index;
        d.contentDepth = depth;
        d.childrenPosted = false;
        game.defenderToMove = depth < d.contentLevels;
        emit Descended(gameId, depth, index, node);
    }

    /// @notice At a leaf of the defender's transactions tree, the challenger opens the
    /// source batch's transaction there (`BatchOpener.openCalldata` / `openBlobs`
    /// arguments) and shows it is another.
    function proveBatchTransaction(uint256 gameId, bytes calldata opening, bool blobs, bytes calldata depositRecord)
        external
    {
        (Game storage game, Derivation storage d) = atDisputedLeaf(gameId, Source.Batch);
        BatchOpener.Opened memory opened = blobs
            ? opener.openBlobs(d.sourceIndex, game.blockNumber, d.contentIndex, opening, depositRecord)
            : opener.openCalldata(d.sourceIndex, game.blockNumber, d.contentIndex, opening, depositRecord);
        derivationFault(gameId, game, keccak256(opened.transaction) != d.contentNode);
    }

    /// @notice At a leaf of a forced block's transactions tree, the challenger shows the
    /// Portal's record (`sender`, `payload`) that belongs there is another transaction.
    function proveForcedTransaction(uint256 gameId, address sender, bytes calldata payload) external {
        (Game storage game, Derivation storage d) = atDisputedLeaf(gameId, Source.Forced);
        derivationFault(
            gameId, game, opener.forcedLeaf(d.sourceIndex + d.contentIndex, sender, payload) != d.contentNode
        );
    }

    /// @notice With one transaction left (`lo` agreed, `lo + 1` disputed), runs
    /// transaction number `lo` of the block through the one-step prover: the game ends
    /// for the challenger if the prover's root differs from the defender's claim, else
    /// for the defender. Anyone may call it; `siblings` prove the transaction against the
    /// block's transactions root, `witness` is the prover's.
    function step(
        uint256 gameId,
        uint64 lo,
        uint64 hi,
        bytes calldata transaction,
        bytes32[] calldata siblings,
        bytes calldata witness
    ) external {
        // Anyone may run the step, on the challenger's time.
        Game storage game = oneTransactionLeft(gameId, lo, hi, transaction, siblings, false);
        bytes32 postRoot = prover.execute(game.loClaim, game.blockNumber, game.blockTimestampMs, transaction, witness);
        emit Stepped(gameId, lo, postRoot, game.hiClaim);
        decide(gameId, game, postRoot);
    }

    /// @notice With one transaction left that is an oracle update (too heavy for one
    /// step), the challenger opens its sub-steps: the game bisects over the state roots
    /// after each of them, from the agreed root before the update (position 0) to the
    /// disputed one after it (position `count`, the prover's sub-step count on the agreed
    /// root; `witness` holds the underlying's leaf). `siblings` prove the transaction
    /// against the block's transactions root.
    function disputeOracleUpdate(
        uint256 gameId,
        uint64 lo,
        uint64 hi,
        bytes calldata transaction,
        bytes32[] calldata siblings,
        bytes calldata witness
    ) external {
        Game storage game = oneTransactionLeft(gameId, lo, hi, transaction, siblings, true);
        if (transaction.length == 0 || uint8(transaction[0]) != 0x10) revert NotAnOracleUpdate();
        // At most 1 025 for a real underlying.
        uint64 count = uint64(ISubStepProver(address(prover)).subStepCount(game.loClaim, transaction, witness));
        subLevels[gameId] = SubLevel({transactionIndex: lo, transactionHash: keccak256(transaction), count: count});
        game.level = Level.SubSteps;
        game.lo = 0;
        game.hi = count;
        game.defenderToMove = count > 1;
        emit SubStepsDisputed(gameId, lo, count);
    }

    /// @notice With one sub-step left (`lo` agreed, `lo + 1` disputed), runs sub-step
    /// `lo + 1` of the disputed oracle update (`transaction`, its bytes) through the
    /// prover: the game ends for the challenger if the prover's root differs from the
    /// defender's claim, else for the defender. Anyone may call it, on the challenger's
    /// time.
    function subStep(uint256 gameId, uint64 lo, uint64 hi, bytes calldata transaction, bytes calldata witness)
        external
    {
        Game storage game = live(gameId, lo, hi);
        SubLevel storage sub = subLevels[gameId];
        if (game.level != Level.SubSteps || hi - lo != 1) revert WrongStage();
        chargeClock(game, false);
        if (keccak256(transaction) != sub.transactionHash) revert TransactionNotInBlock();
        bytes32 postRoot = ISubStepProver(address(prover))
            .subStep(game.loClaim, game.blockTimestampMs, transaction, hi, sub.count, witness);
        emit SubStepped(gameId, hi, postRoot, game.hiClaim);
        decide(gameId, game, postRoot);
    }

    // ---------------------------------------------------------------- endings

    /// @notice Ends the game against the side to move once its clock has run out.
    function timeout(uint256 gameId) external {
        Game storage game = live(gameId);
        uint64 remaining = game.defenderToMove ? game.defenderClock : game.challengerClock;
        uint64 elapsed = uint64(block.timestamp) - game.lastMoveAt;
        if (elapsed <= remaining) revert ClockRunning(remaining - elapsed);
        resolve(gameId, game, game.defenderToMove ? Status.ChallengerWon : Status.DefenderWon);
    }

    /// @notice Ends a game whose dispute another defender won, or whose output was
    /// removed (by another dispute or a mismatch proof). A joined defender of an output
    /// that was removed defended a wrong output: its bond is a losing bond (the winner's
    /// half to the dispute's challenger, the rest burnt), so socks cost their bonds
    /// however the output goes, and the dispute ends with the challenger's bond returned.
    /// Otherwise (another defender won, the output stays) its bond comes back.
    function cancel(uint256 gameId) external {
        if (gameId >= games.length) revert UnknownGame(gameId);
        Game storage game = games[gameId];
        if (game.status != Status.Open) revert GameOver(gameId);
        Dispute storage dispute = disputes[disputeOf[gameId]];
        bool removed = !outputStillThere(game);
        if (dispute.status == Status.Open) {
            if (!removed) revert OutputStillThere(gameId);
            endDispute(disputeOf[gameId], dispute, Status.Cancelled);
        }
        game.status = Status.Cancelled;
        dispute.gamesLive -= 1;
        if (removed) payLoser(game.bond, dispute.challenger);
        else credit[game.defender] += game.bond;
        emit GameResolved(gameId, Status.Cancelled);
    }

    /// @notice Pays the caller's credit.
    function claimCredit() external {
        uint256 amount = credit[msg.sender];
        if (amount == 0) revert NoCredit();
        credit[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert PaymentFailed();
        emit CreditClaimed(msg.sender, amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice Game `gameId`.
    function getGame(uint256 gameId) external view returns (Game memory) {
        if (gameId >= games.length) revert UnknownGame(gameId);
        return games[gameId];
    }

    /// @notice The derivation side of game `gameId` (the revealed block's source and any
    /// content descent).
    function getDerivation(uint256 gameId) external view returns (Derivation memory) {
        if (gameId >= games.length) revert UnknownGame(gameId);
        return derivations[gameId];
    }

    /// @notice The oracle update whose sub-steps game `gameId` bisects (zero before).
    function getSubLevel(uint256 gameId) external view returns (SubLevel memory) {
        if (gameId >= games.length) revert UnknownGame(gameId);
        return subLevels[gameId];
    }

    /// @notice Number of games ever opened.
    function gameCount() external view returns (uint256) {
        return games.length;
    }

    /// @notice Dispute `disputeId`.
    function getDispute(uint256 disputeId) external view returns (Dispute memory) {
        if (disputeId >= disputes.length) revert UnknownDispute(disputeId);
        return disputes[disputeId];
    }

    /// @notice Number of disputes ever opened.
    function disputeCount() external view returns (uint256) {
        return disputes.length;
    }

    /// @notice Seconds left on the clock of the side to move (zero once run out).
    function remainingTime(uint256 gameId) external view returns (uint64) {
        if (gameId >= games.length) revert UnknownGame(gameId);
        Game storage game = games[gameId];
        uint64 remaining = game.defenderToMove ? game.defenderClock : game.challengerClock;
        uint64 elapsed = uint64(block.timestamp) - game.lastMoveAt;
        return elapsed >= remaining ? 0 : remaining - elapsed;
    }

    // ---------------------------------------------------------------- internals

    /// @dev The game with one transaction left (`lo` agreed, `lo + 1` disputed) and
    /// `transaction` proven to be the block's number `lo`; the move is charged to the
    /// challenger's clock (and must be the challenger's when `challengerOnly`).
    function oneTransactionLeft(
        uint256 gameId,
        uint64 lo,
        uint64 hi,
        bytes calldata transaction,
        bytes32[] calldata siblings,
        bool challengerOnly
    ) internal returns (Game storage game) {
        game = live(gameId, lo, hi);
        if (game.level != Level.Transactions || hi - lo != 1) revert WrongStage();
        if (challengerOnly) spendClock(game, false);
        else chargeClock(game, false);
        if (!L2Block.provesTransaction(game.transactionsRoot, game.transactionCount, lo, transaction, siblings)) {
            revert TransactionNotInBlock();
        }
    }

    /// @dev Ends the game by the prover's root: the defender's claim stands or falls.
    function decide(uint256 gameId, Game storage game, bytes32 postRoot) internal {
        resolve(gameId, game, postRoot == game.hiClaim ? Status.DefenderWon : Status.ChallengerWon);
    }

    /// @dev The game, with the block revealed and its derivation not yet disputed, and
    /// the challenger to move, for a block taken from `source` (any, if `None`).
    function derivationMove(uint256 gameId, Source source) internal returns (Game storage game, Derivation storage d) {
        game = live(gameId);
        d = derivations[gameId];
        if (
            game.level != Level.Blocks || !game.blockRevealed || d.contentDisputed
                || (source != Source.None && d.source != source)
        ) revert WrongStage();
        spendClock(game, false);
    }

    /// @dev The game, with the descent at a leaf and the challenger to prove it, for a
    /// block taken from `source`.
    function atDisputedLeaf(uint256 gameId, Source source) internal returns (Game storage game, Derivation storage d) {
        game = live(gameId);
        d = derivations[gameId];
        if (!d.contentDisputed || d.contentDepth != d.contentLevels || d.source != source) revert WrongStage();
        spendClock(game, false);
    }

    /// @dev The anchor's block number and claim (the genesis block is at position 0).
    function anchorOf(uint256 outputIndex, uint256 anchorIndex) internal view returns (uint64, bytes32) {
        if (anchorIndex == GENESIS) return (0, blockClaim(genesisBlockHash, 0));
        if (anchorIndex >= outputIndex || !registry.isFinalized(anchorIndex)) revert BadAnchor(anchorIndex);
        OutputRegistry.Output memory anchor = registry.getOutput(anchorIndex);
        return (anchor.l2BlockNumber, blockClaim(anchor.blockHash, anchor.position));
    }

    /// @dev A claim at the block level: the block's hash bound to where derivation took
    /// it (docs/spec/disputes.md §5.3), `keccak256(blockHash ‖ position as 8 bytes)`.
    function blockClaim(bytes32 blockHash, uint64 position) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(blockHash, position));
    }

    /// @dev An open game of an open dispute on a live output.
    function live(uint256 gameId) internal view returns (Game storage game) {
        if (gameId >= games.length) revert UnknownGame(gameId);
        game = games[gameId];
        if (game.status != Status.Open || disputes[disputeOf[gameId]].status != Status.Open) revert GameOver(gameId);
        if (!outputStillThere(game)) revert OutputGone(gameId);
    }

    /// @dev An open dispute.
    function openDispute(uint256 disputeId) internal view returns (Dispute storage dispute) {
        if (disputeId >= disputes.length) revert UnknownDispute(disputeId);
        dispute = disputes[disputeId];
        if (dispute.status != Status.Open) revert DisputeOver(disputeId);
    }

    /// @dev Whether defenders may still join: the defenders' clock, running from the
    /// opening, has time left.
    function defenseOpen(Dispute storage dispute) internal view returns (bool) {
        return block.timestamp < uint256(dispute.openedAt) + clockSeconds;
    }

    /// @dev The bond sent with this call, at least the registry's `requiredBond()`.
    function takeBond() internal view returns (uint96) {
        uint256 required = registry.requiredBond();
        if (msg.value < required || msg.value > type(uint96).max) revert WrongBond(msg.value, required);
        return uint96(msg.value);
    }

    /// @dev A game of dispute `disputeId` against `defender` (bonded `bond`), from the
    /// anchor to the output, with the defender to move on a clock charged from the
    /// dispute's opening.
    function startGame(uint256 disputeId, Dispute storage dispute, address defender, uint96 bond)
        internal
        returns (uint256 gameId)
    {
        OutputRegistry.Output memory output = registry.getOutput(dispute.outputIndex);
        if (output.removed) revert OutputGone(disputeId);
        gameId = games.length;
        Game storage game = games.push();
        disputeOf[gameId] = disputeId;
        game.outputIndex = dispute.outputIndex;
        game.l1Head = output.l1Head;
        game.challenger = dispute.challenger;
        game.defender = defender;
        game.bond = bond;
        game.defenderToMove = true;
        game.lo = dispute.anchorBlock;
        game.hi = output.l2BlockNumber;
        game.loClaim = dispute.anchorClaim;
        game.hiClaim = blockClaim(output.blockHash, output.position);
        game.challengerClock = clockSeconds;
        game.defenderClock = clockSeconds;
        game.lastMoveAt = dispute.openedAt;
        dispute.gamesLive += 1;
        emit GameOpened(gameId, disputeId, defender, dispute.anchorBlock, output.l2BlockNumber);
    }

    /// @dev An open game on a live output whose segment is `lo`..`hi` (a move names the
    /// segment it answers, so a stale move reverts instead of answering another one).
    function live(uint256 gameId, uint64 lo, uint64 hi) internal view returns (Game storage game) {
        game = live(gameId);
        if (game.lo != lo || game.hi != hi) revert StaleSegment(game.lo, game.hi);
    }

    /// @dev Charges the time since the last move to the caller, who must be `defender`'s
    /// side and to move.
    function spendClock(Game storage game, bool defender) internal {
        if (msg.sender != (defender ? game.defender : game.challenger)) revert NotYourMove();
        chargeClock(game, defender);
    }

    /// @dev Charges the time since the last move to `defender`'s side, which must be to
    /// move and have that much time left.
    function chargeClock(Game storage game, bool defender) internal {
        if (game.defenderToMove != defender) revert NotYourMove();
        uint64 elapsed = uint64(block.timestamp) - game.lastMoveAt;
        if (defender) {
            if (elapsed > game.defenderClock) revert ClockExpired();
            game.defenderClock -= elapsed;
        } else {
            if (elapsed > game.challengerClock) revert ClockExpired();
            game.challengerClock -= elapsed;
        }
        game.lastMoveAt = uint64(block.timestamp);
    }

    /// @dev Ends a game. A defender's win ends the dispute: it gets its bond back and the
    /// winner's half of the challenger's. A challenger's win takes the winner's half of
    /// the defender's bond (the proposer's is the output's, split on removal), and ends
    /// the dispute for the challenger if it was the last game and no defender may join.
    function resolve(uint256 gameId, Game storage game, Status status) internal {
        game.status = status;
        emit GameResolved(gameId, status);
        Dispute storage dispute = disputes[disputeOf[gameId]];
        dispute.gamesLive -= 1;
        if (status == Status.DefenderWon) {
            credit[game.defender] += game.bond;
            payLoser(dispute.bond, game.defender);
            endDispute(disputeOf[gameId], dispute, Status.DefenderWon);
        } else {
            payLoser(game.bond, game.challenger);
            if (dispute.gamesLive == 0 && !defenseOpen(dispute)) {
                endDispute(disputeOf[gameId], dispute, Status.ChallengerWon);
            }
        }
    }

    /// @dev Splits a losing bond (`Bonds.split`): the winner's half to `winner`, the rest
    /// burnt.
    function payLoser(uint96 bond, address winner) internal {
        (uint256 toWinner, uint256 burn) = Bonds.split(bond);
        credit[winner] += toWinner;
        burnt += burn;
    }

    /// @dev Ends a dispute: the challenger's win removes the output and returns its bond
    /// (the registry credits it half the proposer's); a defender's win (the bond already
    /// split) lets the output finalize; a cancelled one returns the challenger's bond.
    function endDispute(uint256 disputeId, Dispute storage dispute, Status status) internal {
        dispute.status = status;
        emit DisputeResolved(disputeId, status);
        if (status == Status.ChallengerWon) {
            credit[dispute.challenger] += dispute.bond;
            registry.invalidate(dispute.outputIndex, dispute.challenger);
        } else if (status == Status.DefenderWon) {
            registry.disputeClosed(dispute.outputIndex);
        } else {
            credit[dispute.challenger] += dispute.bond;
        }
    }

    /// @dev Indices are never reused, so the output is there until it is removed.
    function outputStillThere(Game storage game) internal view returns (bool) {
        return !registry.getOutput(game.outputIndex).removed;
    }

    function midpoint(uint64 lo, uint64 hi) internal pure returns (uint64) {
        return lo + (hi - lo) / 2;
    }
}
