// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

// Length (over 800 lines): every test plays one move or one attack against the same game
// fixture (registry, inbox, opener, a stand-in prover), set up once in `setUp`.

import {Base} from "./utils/Base.sol";
import {BatchInbox} from "../src/BatchInbox.sol";
import {BatchOpener} from "../src/BatchOpener.sol";
import {DisputeGame} from "../src/DisputeGame.sol";
import {IForcedQueue, IStepProver, ISubStepProver} from "../src/ProverInterfaces.sol";
import {IPortalRecords} from "../src/PortalRecords.sol";
import {L2Block} from "../src/L2Block.sol";
import {OutputRegistry} from "../src/OutputRegistry.sol";
import {SourceRules} from "../src/SourceRules.sol";

/// @notice A stand-in state transition for testing the game's mechanics alone: the root
/// after a transaction is keccak256(root ‖ transaction); an "oracle update" (first byte
/// 0x10, second byte m) is m + 1 sub-steps, sub-step j taking root r to keccak256(r ‖
/// transaction ‖ j), and cannot be stepped whole. The real prover's rules are tested
/// against the Rust STF in StepProver.t.sol and the node's parity tests. Its forced queue
/// count is what the witness says (abi-encoded).
contract HashChainProver is IStepProver, ISubStepProver, IForcedQueue {
    function forcedQueueCount(bytes32, bytes calldata witness) external pure returns (uint64) {
        return abi.decode(witness, (uint64));
    }

    function execute(bytes32 preRoot, uint64, uint64, bytes calldata transaction, bytes calldata)
        external
        pure
        returns (bytes32)
    {
        require(transaction.length == 0 || uint8(transaction[0]) != 0x10, "oracle updates go sub-step by sub-step");
        return keccak256(abi.encodePacked(preRoot, transaction));
    }

    function subStepCount(bytes32, bytes calldata transaction, bytes calldata) external pure returns (uint256) {
        return uint8(transaction[1]) + 1;
    }

    function subStep(bytes32 preRoot, uint64, bytes calldata transaction, uint256 index, uint256, bytes calldata)
        external
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(preRoot, transaction, index));
    }
}

/// @notice Portal records for the forced-block tests: one forced transaction, recorded
/// in L1 block 10 at L1 time 2 s; a window of 5 L1 blocks.
contract OneForcedRecord is IPortalRecords {
    bytes32 internal immutable forcedHash;

    constructor(bytes32 forcedHash_) {
        forcedHash = forcedHash_;
    }

    function depositHashes(uint64) external pure returns (bytes32) {
        return bytes32(0);
    }

    function forcedHashes(uint64 index) external view returns (bytes32) {
        return index == 0 ? forcedHash : bytes32(0);
    }

    function depositBlocks(uint64) external pure returns (uint64) {
        return 0;
    }

    function forcedBlocks(uint64 index) external pure returns (uint64) {
        return index == 0 ? 10 : 0;
    }

    function forcedInclusionWindow() external pure returns (uint64) {
        return 5;
    }

    function forcedTimes(uint64 index) external pure returns (uint64) {
        return index == 0 ? 2 : 0;
    }
}

contract DisputeGameTest is Base {
    /// @notice An L2 chain as one party sees it: headers, hashes, per-transaction roots.
    struct Chain {
        bytes[] headers;
        bytes32[] hashes;
        bytes32[] stateRoots;
        bytes32[][] roots;
        bytes[][] transactions;
        /// @dev The roots at the sub-step positions of the oracle update (when built
        /// with one).
        bytes32[] subRoots;
        /// @dev Each block's derivation position (block 0: 0; the rest: batch 0).
        uint64[] positions;
    }

    OutputRegistry internal registry;
    DisputeGame internal game;
    address internal constant PROPOSER = address(0xA11CE);
    address internal constant CHALLENGER = address(0xC4A1);
    uint64 internal constant WINDOW = 600;
    uint96 internal constant BOND = 1 ether;
    uint64 internal constant CLOCK = 60;
    uint64 internal constant BLOCKS = 12;
    uint256 internal constant NO_TAMPERING = type(uint256).max;
    uint256 internal constant GENESIS = type(uint256).max;
    /// @dev How `build` forges: the state root after a transaction, the bytes of a
    /// transaction (with roots that follow from them), or a block's time.
    uint8 internal constant FORGE_ROOT = 0;
    uint8 internal constant FORGE_CONTENT = 1;
    uint8 internal constant FORGE_TIME = 2;
    /// @dev The transaction is the undecodable item 0xFE (what derivation makes of a slot
    /// the batch garbles: `encodeBatch` writes an unknown kind there).
    uint8 internal constant FORGE_UNDECODABLE = 3;
    /// @dev `buildWithOracle`: transaction ORACLE_TX of block ORACLE_BLOCK is an oracle
    /// update of ORACLE_STEPS sub-steps.
    uint64 internal constant ORACLE_BLOCK = 3;
    uint256 internal constant ORACLE_TX = 2;
    uint256 internal constant ORACLE_STEPS = 7;
    /// @dev The position of a forced block put before batch 1.
    uint64 internal constant FORCED_POSITION = 2;
    /// @dev The forced transaction block 3 of the forced-block chain carries.
    address internal constant FORCER = address(0xF0);
    bytes internal constant FORCED_PAYLOAD = hex"02deadbeef";

    Chain internal honest;
    BatchInbox internal inbox;
    /// @dev The honest chain's blocks 1..BLOCKS, posted as calldata batch 0.
    bytes internal batch;

    function setUp() public {
        vm.warp(1_000_000);
        honest = build(NO_TAMPERING, 0, FORGE_ROOT);
        // The registry's resolver is the game, deployed after the registry, the prover,
        // the inbox, the opener and the source rules.
        address gameAddress = createAddress(address(this), vm.getNonce(address(this)) + 6);
        registry = new OutputRegistry(PROPOSER, gameAddress, WINDOW, BOND);
        IStepProver prover = new HashChainProver();
        inbox = new BatchInbox(address(this));
        IPortalRecords portal = new OneForcedRecord(keccak256(abi.encode(uint64(0), FORCER, keccak256(FORCED_PAYLOAD))));
        BatchOpener opener = new BatchOpener(inbox, portal, 1, address(0));
        game = new DisputeGame(registry, prover, honest.hashes[0], CLOCK, new SourceRules(opener));
        vm.assertEq(address(game), gameAddress, "game at the resolver address");
        vm.assertEq(game.GENESIS(), GENESIS, "genesis anchor");
        vm.deal(PROPOSER, 100 ether);
        vm.deal(CHALLENGER, 100 ether);
        batch = encodeBatch(honest);
        inbox.postCalldata(batch);
        // Outputs are proposed in later L1 blocks: their L1 head holds the batch.
        vm.roll(block.number + 1);
    }

    // ---------------------------------------------------------------- batches

    /// @dev Blocks 1..BLOCKS of `chain` in the batch format, every transaction carried
    /// canonically (kind 0xFF: its bytes as they are).
    function encodeBatch(Chain memory chain) internal pure returns (bytes memory) {
        return encodeBlocks(chain, 1, BLOCKS, 0);
    }

    /// @dev Blocks `first`..`last` of `chain` in the batch format; `lastTime`, if not
    /// zero, replaces the last block's time.
    function encodeBlocks(Chain memory chain, uint64 first, uint64 last, uint64 lastTime)
        internal
        pure
        returns (bytes memory out)
    {
        bytes memory blockList;
        bytes memory index;
        bytes memory section;
        uint64 firstTime = uint64(bytes8(slice(chain.headers[first], 40, 8)));
        uint64 previous = firstTime;
        for (uint64 n = first; n <= last; n++) {
            uint64 time = n == last && lastTime != 0 ? lastTime : uint64(bytes8(slice(chain.headers[n], 40, 8)));
            // Zigzag: 2d for d ≥ 0, 2|d| − 1 below.
            uint256 zigzag = time >= previous ? 2 * uint256(time - previous) : 2 * uint256(previous - time) - 1;
            blockList = abi.encodePacked(blockList, varint(zigzag), varint(chain.transactions[n].length));
            previous = time;
            for (uint256 k = 0; k < chain.transactions[n].length; k++) {
                index = abi.encodePacked(index, uint24(section.length));
                bytes memory txn = chain.transactions[n][k];
                section = txn.length == 1 && uint8(txn[0]) == 0xfe
                    ? abi.encodePacked(section, hex"42")
                    : abi.encodePacked(section, hex"ff", varint(txn.length), txn);
            }
        }
        out = abi.encodePacked(
            uint8(1),
            first,
            chain.hashes[first - 1],
            firstTime,
            varint(last - first + 1),
            blockList,
            varint(0),
            index,
            section
        );
    }

    /// @dev A canonical auto-deleveraging (kind 0x14: target ‖ market u32 ‖ counterparty ‖
    /// size u64, 53 bytes), distinct per block, position and `forged`: a transaction a
    /// batch carries as its canonical bytes.
    function autoDeleverage(uint64 n, uint256 k, bool forged) internal pure returns (bytes memory) {
        return abi.encodePacked(
            uint8(0x14), address(uint160(0x7000 + n)), uint32(k), address(uint160(forged ? 0xF0 : 0xC0)), uint64(n)
        );
    }

    function varint(uint256 value) internal pure returns (bytes memory out) {
        while (value >= 0x80) {
            out = abi.encodePacked(out, uint8(value & 0x7f) | 0x80);
            value >>= 7;
        }
        out = abi.encodePacked(out, uint8(value));
    }

    function slice(bytes memory data, uint256 start, uint256 len) internal pure returns (bytes memory out) {
        out = new bytes(len);
        for (uint256 i = 0; i < len; i++) {
            out[i] = data[start + i];
        }
    }

    /// @dev Node `index` at `depth` of the transactions tree of `txs` (levels levels).
    function treeNode(bytes[] memory txs, uint256 depth, uint256 index) internal pure returns (bytes32) {
        bytes32[] memory level = new bytes32[](txs.length);
        for (uint256 i = 0; i < txs.length; i++) {
            level[i] = keccak256(txs[i]);
        }
        uint256 levels = L2Block.depth(txs.length);
        for (uint256 d = levels; d > depth; d--) {
            bytes32[] memory above = new bytes32[]((level.length + 1) / 2);
            for (uint256 i = 0; i < above.length; i++) {
                bytes32 right = 2 * i + 1 < level.length ? level[2 * i + 1] : bytes32(0);
                above[i] = keccak256(abi.encodePacked(level[2 * i], right));
            }
            level = above;
        }
        return index < level.length ? level[index] : bytes32(0);
    }

    // ---------------------------------------------------------------- chains

    /// @dev Blocks 0..BLOCKS; block n has (3n mod 5) transactions (block 5 is empty), at
    /// time n·1000. In block `tamperBlock`, `how` forges the state root after transaction
    /// `tamperTx` (or the empty block's root), that transaction's bytes, or the time.
    function build(uint256 tamperBlock, uint256 tamperTx, uint8 how) internal pure returns (Chain memory chain) {
        return buildChain(tamperBlock, tamperTx, how, false, 0);
    }

    /// @dev `build` with an oracle update (ORACLE_BLOCK, ORACLE_TX); `forgedSub` > 0
    /// forges the root after that sub-step (the later ones follow from it).
    function buildWithOracle(uint256 forgedSub) internal pure returns (Chain memory) {
        return buildChain(NO_TAMPERING, 0, FORGE_ROOT, true, forgedSub);
    }

    function buildChain(uint256 tamperBlock, uint256 tamperTx, uint8 how, bool oracle, uint256 forgedSub)
        internal
        pure
        returns (Chain memory chain)
    {
        chain.headers = new bytes[](BLOCKS + 1);
        chain.hashes = new bytes32[](BLOCKS + 1);
        chain.stateRoots = new bytes32[](BLOCKS + 1);
        chain.roots = new bytes32[][](BLOCKS + 1);
        chain.transactions = new bytes[][](BLOCKS + 1);
        chain.positions = new uint64[](BLOCKS + 1);
        bytes32 root = keccak256("genesis state");
        chain.headers[0] = header(0, bytes32(0), 0, root, bytes32(0), 0);
        chain.hashes[0] = keccak256(chain.headers[0]);
        chain.stateRoots[0] = root;
        for (uint64 n = 1; n <= BLOCKS; n++) {
            uint256 count = (3 * uint256(n)) % 5;
            bytes[] memory txs = new bytes[](count);
            bytes32[] memory roots = new bytes32[](count + 1);
            bytes32[] memory leaves = new bytes32[](count);
            roots[0] = root;
            bool here = n == tamperBlock;
            for (uint256 k = 0; k < count; k++) {
                txs[k] = autoDeleverage(n, k, here && k == tamperTx && how == FORGE_CONTENT);
                if (here && k == tamperTx && how == FORGE_UNDECODABLE) txs[k] = hex"fe";
                if (oracle && n == ORACLE_BLOCK && k == ORACLE_TX) {
                    txs[k] = abi.encodePacked(uint8(0x10), uint8(ORACLE_STEPS - 1), "oracle update");
                    chain.subRoots = subRoots(roots[k], txs[k], forgedSub);
                    roots[k + 1] = chain.subRoots[ORACLE_STEPS];
                    leaves[k] = keccak256(txs[k]);
                    continue;
                }
                leaves[k] = keccak256(txs[k]);
                roots[k + 1] = here && k == tamperTx && how == FORGE_ROOT
                    ? keccak256(abi.encodePacked("forged", roots[k]))
                    : keccak256(abi.encodePacked(roots[k], txs[k]));
            }
            root = roots[count];
            if (count == 0 && here && how == FORGE_ROOT) {
                root = keccak256(abi.encodePacked("forged", root));
                roots[0] = root;
            }
            chain.roots[n] = roots;
            chain.stateRoots[n] = root;
            chain.transactions[n] = txs;
            uint64 time = here && how == FORGE_TIME ? n * 1000 + 1 : n * 1000;
            chain.headers[n] = header(n, chain.hashes[n - 1], time, root, merkleRoot(leaves), uint32(count));
            chain.hashes[n] = keccak256(chain.headers[n]);
            chain.positions[n] = inBatch(0);
        }
    }

    /// @dev The roots of the oracle update `txn` from `root`, sub-step by sub-step.
    function subRoots(bytes32 root, bytes memory txn, uint256 forgedSub) internal pure returns (bytes32[] memory r) {
        r = new bytes32[](ORACLE_STEPS + 1);
        r[0] = root;
        for (uint256 j = 1; j <= ORACLE_STEPS; j++) {
            r[j] = j == forgedSub
                ? keccak256(abi.encodePacked("forged", r[j - 1]))
                : keccak256(abi.encodePacked(r[j - 1], txn, j));
        }
    }

    function header(
        uint64 number,
        bytes32 parent,
        uint64 timestampMs,
        bytes32 stateRoot,
        bytes32 transactionsRoot,
        uint32 count
    ) internal pure returns (bytes memory) {
        return abi.encodePacked(number, parent, timestampMs, stateRoot, transactionsRoot, count);
    }

    function merkleRoot(bytes32[] memory leaves) internal pure returns (bytes32) {
        if (leaves.length == 0) return bytes32(0);
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            bytes32[] memory above = new bytes32[]((level.length + 1) / 2);
            for (uint256 i = 0; i < above.length; i++) {
                bytes32 right = 2 * i + 1 < level.length ? level[2 * i + 1] : bytes32(0);
                above[i] = keccak256(abi.encodePacked(level[2 * i], right));
            }
            level = above;
        }
        return level[0];
    }

    function merkleProof(bytes[] memory txs, uint256 index) internal pure returns (bytes32[] memory siblings) {
        bytes32[] memory level = new bytes32[](txs.length);
        for (uint256 i = 0; i < txs.length; i++) {
            level[i] = keccak256(txs[i]);
        }
        siblings = new bytes32[](L2Block.depth(txs.length));
        for (uint256 d = 0; d < siblings.length; d++) {
            uint256 other = index ^ 1;
            siblings[d] = other < level.length ? level[other] : bytes32(0);
            bytes32[] memory above = new bytes32[]((level.length + 1) / 2);
            for (uint256 i = 0; i < above.length; i++) {
                bytes32 right = 2 * i + 1 < level.length ? level[2 * i + 1] : bytes32(0);
                above[i] = keccak256(abi.encodePacked(level[2 * i], right));
            }
            level = above;
            index /= 2;
        }
    }

    // ---------------------------------------------------------------- parties

    function propose(Chain memory chain, uint64 number) internal returns (uint256) {
        return proposeAt(chain, number, chain.positions[number]);
    }

    function proposeAt(Chain memory chain, uint64 number, uint64 position) internal returns (uint256) {
        vm.prank(PROPOSER);
        return registry.propose{value: BOND}(number, chain.stateRoots[number], chain.hashes[number], position);
    }

    /// @dev The position of a block taken from batch `index`.
    function inBatch(uint64 index) internal pure returns (uint64) {
        return 2 * index + 1;
    }

    /// @dev `chain`'s claim at the block level for block `n`: its hash and position.
    function claimOf(Chain memory chain, uint64 n) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(chain.hashes[n], chain.positions[n]));
    }

    /// @dev The defender reveals block `n` of `chain` and its parent, at their positions.
    function reveal(uint256 gameId, Chain memory chain, uint64 n) internal {
        game.revealBlock(gameId, chain.headers[n - 1], chain.positions[n - 1], chain.headers[n], chain.positions[n], 0);
    }

    function open(uint256 outputIndex, uint256 anchor) internal returns (uint256) {
        vm.prank(CHALLENGER);
        return game.open{value: BOND}(outputIndex, anchor);
    }

    /// @dev Plays `gameId` to its end, one move per second: the defender from its chain,
    /// the challenger comparing with its own. Returns the moves made.
    /// A challenger's win ends the dispute once no defender may join any more (`settle`).
    function play(uint256 gameId, Chain memory defender, Chain memory challenger) internal returns (uint256 moves) {
        while (true) {
            DisputeGame.Game memory g = game.getGame(gameId);
            if (g.status != DisputeGame.Status.Open) {
                if (g.status == DisputeGame.Status.ChallengerWon) settle(gameId);
                return moves;
            }
            vm.warp(block.timestamp + 1);
            moves++;
            uint64 mid = g.lo + (g.hi - g.lo) / 2;
            bool blocks = g.level == DisputeGame.Level.Blocks;
            if (g.hi - g.lo > 1) {
                if (!g.midPosted) {
                    vm.prank(g.defender);
                    game.claimMidpoint(gameId, g.lo, g.hi, claimAt(defender, g, mid));
                } else {
                    vm.prank(CHALLENGER);
                    game.answer(gameId, g.lo, g.hi, claimAt(challenger, g, mid) == g.midClaim);
                }
            } else if (blocks && !g.blockRevealed) {
                vm.prank(g.defender);
                reveal(gameId, defender, g.hi);
            } else if (blocks && !game.getDerivation(gameId).contentDisputed) {
                derivationOrExecution(gameId, g, challenger);
            } else if (blocks) {
                descendOrProve(gameId, game.getDerivation(gameId), g.blockNumber, defender, challenger);
            } else if (g.level == DisputeGame.Level.SubSteps) {
                bytes memory txn = defender.transactions[g.blockNumber][game.getSubLevel(gameId).transactionIndex];
                vm.prank(CHALLENGER);
                game.subStep(gameId, g.lo, g.hi, txn, "");
            } else {
                bytes[] memory txs = defender.transactions[g.blockNumber];
                vm.prank(CHALLENGER);
                if (uint8(txs[g.lo][0]) == 0x10) {
                    game.disputeOracleUpdate(gameId, g.lo, g.hi, txs[g.lo], merkleProof(txs, g.lo), "");
                } else {
                    game.step(gameId, g.lo, g.hi, txs[g.lo], merkleProof(txs, g.lo), "");
                }
            }
        }
    }

    /// @dev Plays an execution dispute (the defender from `defender`, the challenger from
    /// `challenger`) until one position is left at `level`.
    function playTo(uint256 gameId, Chain memory defender, Chain memory challenger, DisputeGame.Level level)
        internal
        returns (DisputeGame.Game memory g)
    {
        g = game.getGame(gameId);
        while (g.level != level || g.hi - g.lo > 1) {
            vm.warp(block.timestamp + 1);
            uint64 mid = g.lo + (g.hi - g.lo) / 2;
            if (g.hi - g.lo > 1 && !g.midPosted) {
                vm.prank(g.defender);
                game.claimMidpoint(gameId, g.lo, g.hi, claimAt(defender, g, mid));
            } else if (g.hi - g.lo > 1) {
                vm.prank(CHALLENGER);
                game.answer(gameId, g.lo, g.hi, claimAt(challenger, g, mid) == g.midClaim);
            } else if (g.level == DisputeGame.Level.Blocks && !g.blockRevealed) {
                vm.prank(g.defender);
                reveal(gameId, defender, g.hi);
            } else if (g.level == DisputeGame.Level.Blocks) {
                vm.prank(CHALLENGER);
                game.disputeExecution(gameId);
            } else {
                bytes[] memory txs = defender.transactions[g.blockNumber];
                vm.prank(CHALLENGER);
                game.disputeOracleUpdate(gameId, g.lo, g.hi, txs[g.lo], merkleProof(txs, g.lo), "");
            }
            g = game.getGame(gameId);
        }
    }

    /// @dev `chain`'s claim at position `mid` of the game's level.
    function claimAt(Chain memory chain, DisputeGame.Game memory g, uint64 mid) internal pure returns (bytes32) {
        if (g.level == DisputeGame.Level.Blocks) return claimOf(chain, mid);
        if (g.level == DisputeGame.Level.SubSteps) return chain.subRoots[mid];
        return chain.roots[g.blockNumber][mid];
    }

    /// @dev The challenger's move after the reveal: a time or count its batch
    /// contradicts, other transactions, or (same transactions) the execution.
    function derivationOrExecution(uint256 gameId, DisputeGame.Game memory g, Chain memory challenger) internal {
        bytes memory mine = challenger.headers[g.blockNumber];
        uint64 time = uint64(bytes8(slice(mine, 40, 8)));
        bytes32 transactionsRoot = bytes32(slice(mine, 80, 32));
        uint32 count = uint32(bytes4(slice(mine, 112, 4)));
        vm.prank(CHALLENGER);
        if (time != g.blockTimestampMs || count != g.transactionCount) {
            // A challenger whose own block is the forged one has no fault to show: it
            // can only let its clock run out.
            try game.disputeBatchBlock(gameId, batch, false) {}
            catch {
                runOut(gameId);
            }
        } else if (transactionsRoot != g.transactionsRoot) {
            game.disputeContent(gameId);
        } else {
            game.disputeExecution(gameId);
        }
    }

    /// @dev The descent of a content dispute: the defender shows children, the
    /// challenger follows the first one that differs from its own tree, and proves the
    /// leaf from the batch.
    function descendOrProve(
        uint256 gameId,
        DisputeGame.Derivation memory g,
        uint64 blockNumber,
        Chain memory defender,
        Chain memory challenger
    ) internal {
        bytes[] memory theirs = defender.transactions[blockNumber];
        if (g.contentDepth == g.contentLevels) {
            vm.prank(CHALLENGER);
            try game.proveBatchTransaction(gameId, batch, false, "") {}
            catch {
                runOut(gameId);
            }
        } else if (!g.childrenPosted) {
            uint256 depth = g.contentDepth + 1;
            vm.prank(game.getGame(gameId).defender);
            game.revealChildren(
                gameId, treeNode(theirs, depth, 2 * g.contentIndex), treeNode(theirs, depth, 2 * g.contentIndex + 1)
            );
        } else {
            bytes[] memory mine = challenger.transactions[blockNumber];
            bool leftDiffers = treeNode(mine, g.contentDepth + 1, 2 * g.contentIndex) != g.leftChild;
            vm.prank(CHALLENGER);
            game.descend(gameId, !leftDiffers);
        }
    }

    /// @dev Ends `gameId`'s dispute for its challenger, who has won every game, once the
    /// defenders' clock has run out (no one else may join).
    function settle(uint256 gameId) internal {
        uint256 disputeId = game.disputeOf(gameId);
        DisputeGame.Dispute memory d = game.getDispute(disputeId);
        if (d.status != DisputeGame.Status.Open || d.gamesLive != 0) return;
        if (block.timestamp < uint256(d.openedAt) + CLOCK) vm.warp(uint256(d.openedAt) + CLOCK);
        game.resolveDispute(disputeId);
    }

    /// @dev The side to move does nothing until its clock has run out.
    function runOut(uint256 gameId) internal {
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(gameId);
    }

    function truncated(bytes memory data) internal pure returns (bytes memory out) {
        out = new bytes(data.length - 1);
        for (uint256 i = 0; i < out.length; i++) {
            out[i] = data[i];
        }
    }

    function status(uint256 gameId) internal view returns (DisputeGame.Status) {
        return game.getGame(gameId).status;
    }

    // ---------------------------------------------------------------- tests

    function test_AWrongRootIsRemovedAloneAndTheBondsMove() public {
        Chain memory forged = build(8, 2, FORGE_ROOT);
        propose(honest, 4);
        vm.warp(block.timestamp + WINDOW);
        uint256 wrong = propose(forged, 9);
        uint256 laterWrong = propose(forged, 12);
        uint256 gameId = open(wrong, 0);
        vm.assertEq(uint256(registry.getOutput(wrong).openDisputes), 1, "dispute marked");

        uint256 moves = play(gameId, forged, honest);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        DisputeGame.Game memory g = game.getGame(gameId);
        vm.assertEq(uint256(g.blockNumber), 8, "narrowed to the forged block");
        vm.assertEq(uint256(g.lo), 2, "and to its forged transaction");
        vm.assertGt(moves, 5, "bisection took several moves");
        vm.assertTrue(registry.getOutput(wrong).removed, "the wrong output is removed");
        vm.assertFalse(registry.getOutput(laterWrong).removed, "a later output stands on its own");
        vm.assertEq(registry.outputCount(), 3, "indices are not reused");
        vm.assertEq(uint256(registry.latestBlockNumber()), 12, "the newest output is still the later one");
        vm.assertEq(game.credit(CHALLENGER), BOND, "challenger's own bond back");
        vm.assertEq(registry.credit(CHALLENGER), BOND / 2, "half the proposer's bond to the challenger");
        vm.assertEq(registry.burnt(), BOND / 2, "the other half burnt");

        // The later output of the forged chain is wrong too, and is removed by its own game
        // (anchored on the same final output).
        uint256 second = open(laterWrong, 0);
        play(second, forged, honest);
        vm.assertEq(uint256(status(second)), uint256(DisputeGame.Status.ChallengerWon), "second game won");
        vm.assertTrue(registry.getOutput(laterWrong).removed, "the later wrong output is removed");
        vm.assertEq(uint256(registry.latestBlockNumber()), 4, "the honest output is the newest left");

        uint256 before = CHALLENGER.balance;
        vm.prank(CHALLENGER);
        game.claimCredit();
        vm.prank(CHALLENGER);
        registry.claimCredit();
        vm.assertEq(CHALLENGER.balance - before, 3 * uint256(BOND), "its two bonds back and half of each proposer bond");
    }

    function test_AWrongOracleUpdateIsFoundAmongItsSubSteps() public {
        for (uint256 forgedSub = 1; forgedSub <= ORACLE_STEPS; forgedSub++) {
            Chain memory honestWithOracle = buildWithOracle(0);
            Chain memory forged = buildWithOracle(forgedSub);
            uint256 output = propose(forged, 6);
            uint256 gameId = open(output, GENESIS);
            play(gameId, forged, honestWithOracle);
            vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
            DisputeGame.Game memory g = game.getGame(gameId);
            DisputeGame.SubLevel memory sub = game.getSubLevel(gameId);
            vm.assertEq(uint256(g.level), uint256(DisputeGame.Level.SubSteps), "inside the update");
            vm.assertEq(uint256(g.blockNumber), ORACLE_BLOCK, "its block");
            vm.assertEq(uint256(sub.transactionIndex), ORACLE_TX, "the update");
            vm.assertEq(uint256(sub.count), ORACLE_STEPS, "its sub-steps");
            vm.assertEq(uint256(g.hi), forgedSub, "the forged sub-step");
            vm.assertTrue(registry.getOutput(output).removed, "output removed");
        }
    }

    function test_AnHonestOracleUpdateSurvivesAChallengerWhoDisagrees() public {
        Chain memory honestWithOracle = buildWithOracle(0);
        Chain memory mistaken = buildWithOracle(4);
        uint256 output = propose(honestWithOracle, 6);
        uint256 gameId = open(output, GENESIS);
        play(gameId, honestWithOracle, mistaken);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.DefenderWon), "defender won");
        vm.assertEq(uint256(game.getGame(gameId).hi), 4, "at the sub-step the challenger disputed");
    }

    function test_SubStepMovesAreChecked() public {
        Chain memory honestWithOracle = buildWithOracle(0);
        Chain memory forged = buildWithOracle(3);
        uint256 gameId = open(propose(forged, ORACLE_BLOCK), GENESIS);
        // Bisect the blocks to the oracle update's block, then its transactions to it.
        DisputeGame.Game memory g = playTo(gameId, forged, honestWithOracle, DisputeGame.Level.Transactions);
        bytes[] memory txs = forged.transactions[ORACLE_BLOCK];
        vm.assertEq(uint256(g.lo), ORACLE_TX, "at the update");
        // Not stepped whole; another transaction is no oracle update; only the challenger
        // opens the sub-steps; the bytes must be the block's.
        vm.prank(CHALLENGER);
        vm.expectRevert();
        game.step(gameId, g.lo, g.hi, txs[ORACLE_TX], merkleProof(txs, ORACLE_TX), "");
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.TransactionNotInBlock.selector);
        game.disputeOracleUpdate(gameId, g.lo, g.hi, txs[0], merkleProof(txs, ORACLE_TX), "");
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.NotYourMove.selector);
        game.disputeOracleUpdate(gameId, g.lo, g.hi, txs[ORACLE_TX], merkleProof(txs, ORACLE_TX), "");
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.subStep(gameId, g.lo, g.hi, txs[ORACLE_TX], "");

        vm.prank(CHALLENGER);
        game.disputeOracleUpdate(gameId, g.lo, g.hi, txs[ORACLE_TX], merkleProof(txs, ORACLE_TX), "");
        g = game.getGame(gameId);
        vm.assertEq(uint256(g.lo), 0, "sub-steps from the root before the update");
        vm.assertEq(uint256(g.hi), ORACLE_STEPS, "to the root after it");
        vm.assertEq(g.loClaim, forged.roots[ORACLE_BLOCK][ORACLE_TX], "agreed");
        vm.assertEq(g.hiClaim, forged.roots[ORACLE_BLOCK][ORACLE_TX + 1], "disputed");
        vm.assertTrue(g.defenderToMove, "the defender claims the first midpoint");
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NotYourMove.selector);
        game.claimMidpoint(gameId, 0, uint64(ORACLE_STEPS), bytes32(0));
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.subStep(gameId, 0, uint64(ORACLE_STEPS), txs[ORACLE_TX], "");

        play(gameId, forged, honestWithOracle);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
    }

    function test_AnOracleUpdateWithOtherBytesCannotBeSteppedInside() public {
        Chain memory honestWithOracle = buildWithOracle(0);
        Chain memory forged = buildWithOracle(2);
        uint256 gameId = open(propose(forged, ORACLE_BLOCK), GENESIS);
        // Play until one sub-step is left, then offer other bytes.
        DisputeGame.Game memory g = playTo(gameId, forged, honestWithOracle, DisputeGame.Level.SubSteps);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.TransactionNotInBlock.selector);
        game.subStep(gameId, g.lo, g.hi, abi.encodePacked(uint8(0x10), uint8(6), "another update"), "");
    }

    function test_AFalseChallengeLosesItsBondAndDelaysFinalityOnlyWhileOpen() public {
        Chain memory mistaken = build(3, 0, FORGE_ROOT);
        uint256 output = propose(honest, 6);
        vm.warp(block.timestamp + WINDOW - 2);
        uint256 gameId = open(output, GENESIS);
        vm.warp(block.timestamp + 2);
        vm.assertFalse(registry.isFinalized(output), "not final while the dispute is open");
        // A second challenge after the window is refused.
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WindowClosed.selector, output));
        game.open{value: BOND}(output, GENESIS);

        play(gameId, honest, mistaken);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.DefenderWon), "defender won");
        vm.assertEq(game.credit(PROPOSER), BOND / 2, "half the challenger's bond goes to the defender");
        vm.assertEq(game.burnt(), BOND / 2, "the other half is burnt");
        vm.assertEq(game.credit(CHALLENGER), 0, "challenger forfeits");
        vm.assertTrue(registry.isFinalized(output), "final once the dispute closed after its window");
    }

    /// @notice Attack: a proposer and a sock-puppet challenger stage games to delay finality
    /// (the sock challenges the proposer's correct output and loses on its clock), or to
    /// take the honest challenger's reward (the proposer lets the sock win first against
    /// its wrong output). Each staged game burns half a bond of the pair's.
    function test_CollusionBurnsHalfABondPerStagedGame() public {
        address sock = address(0x50C);
        vm.deal(sock, 10 ether);
        uint256 pairBefore = PROPOSER.balance + sock.balance;

        // Delay: the sock disputes a correct output and falls silent.
        uint256 correct = propose(honest, 4);
        vm.prank(sock);
        uint256 staged = game.open{value: BOND}(correct, GENESIS);
        vm.prank(PROPOSER);
        game.claimMidpoint(staged, 0, 4, claimOf(honest, 2));
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(staged);
        vm.assertEq(uint256(status(staged)), uint256(DisputeGame.Status.DefenderWon), "the sock lost");

        // Reward theft: the sock opens first on the proposer's wrong output and the proposer
        // stays silent in that game; the honest challenger's game is then cancelled.
        uint256 wrong = propose(build(6, 0, FORGE_ROOT), 8);
        vm.prank(sock);
        uint256 sockGame = game.open{value: BOND}(wrong, GENESIS);
        uint256 honestGame = open(wrong, GENESIS);
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(sockGame);
        vm.assertEq(uint256(status(sockGame)), uint256(DisputeGame.Status.ChallengerWon), "the sock won");
        game.cancel(honestGame);
        vm.assertEq(game.credit(CHALLENGER), BOND, "the honest challenger's bond is returned");

        // What the pair holds and can claim, against what it had: half a bond burnt per
        // staged game.
        uint256 pairAfter = PROPOSER.balance + sock.balance + game.credit(PROPOSER) + game.credit(sock)
            + registry.credit(PROPOSER) + registry.credit(sock) + registry.getOutput(correct).bond;
        vm.assertEq(pairBefore - pairAfter, uint256(BOND), "two staged games: two half bonds burnt");
        vm.assertEq(game.burnt() + registry.burnt(), uint256(BOND), "burnt, owed to no one");
    }

    function test_AnEmptyBlockThatChangesTheStateLoses() public {
        Chain memory forged = build(5, 0, FORGE_ROOT);
        uint256 output = propose(forged, 5);
        uint256 gameId = open(output, GENESIS);
        play(gameId, forged, honest);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        vm.assertEq(uint256(game.getGame(gameId).transactionCount), 0, "on the empty block");
    }

    function test_ASilentDefenderLosesOnItsClock() public {
        uint256 output = propose(build(2, 0, FORGE_ROOT), 8);
        uint256 gameId = open(output, GENESIS);
        vm.warp(block.timestamp + CLOCK);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.ClockRunning.selector, 0));
        game.timeout(gameId);
        vm.assertEq(uint256(game.remainingTime(gameId)), 0, "no time left");
        vm.warp(block.timestamp + 1);
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.ClockExpired.selector);
        game.claimMidpoint(gameId, 0, 8, bytes32(0));
        game.timeout(gameId);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won on time");
        vm.assertTrue(registry.getOutput(output).removed, "output removed");
    }

    function test_ASilentChallengerLosesOnItsClockAndClocksAreChess() public {
        uint256 output = propose(honest, 8);
        uint256 gameId = open(output, GENESIS);
        vm.warp(block.timestamp + 40);
        vm.prank(PROPOSER);
        game.claimMidpoint(gameId, 0, 8, claimOf(honest, 4));
        DisputeGame.Game memory g = game.getGame(gameId);
        vm.assertEq(uint256(g.defenderClock), CLOCK - 40, "the defender spent 40 s");
        vm.assertEq(uint256(g.challengerClock), CLOCK, "the challenger's clock was stopped");
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(gameId);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.DefenderWon), "defender won on time");
        vm.assertEq(uint256(registry.getOutput(output).openDisputes), 0, "dispute closed");
    }

    function test_MovesAreCheckedForTurnSegmentAndBond() public {
        uint256 output = propose(honest, 8);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.WrongBond.selector, 1, BOND));
        game.open{value: 1}(output, GENESIS);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.BadAnchor.selector, 0));
        game.open{value: BOND}(output, 0);
        uint256 gameId = open(output, GENESIS);

        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NotYourMove.selector);
        game.claimMidpoint(gameId, 0, 8, bytes32(0));
        vm.prank(PROPOSER);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.StaleSegment.selector, 0, 8));
        game.claimMidpoint(gameId, 0, 7, bytes32(0));
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        reveal(gameId, honest, 1);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.answer(gameId, 0, 8, true);

        vm.prank(PROPOSER);
        game.claimMidpoint(gameId, 0, 8, claimOf(honest, 4));
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.claimMidpoint(gameId, 0, 8, claimOf(honest, 4));
        vm.prank(CHALLENGER);
        game.answer(gameId, 0, 8, true);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.answer(gameId, 4, 8, true);
    }

    function test_RevealedHeadersMustMatchTheClaims() public {
        uint256 output = propose(honest, 1);
        uint256 gameId = open(output, GENESIS);
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.HeaderMismatch.selector);
        game.revealBlock(gameId, honest.headers[1], 1, honest.headers[1], 1, 0);
        vm.prank(PROPOSER);
        vm.expectRevert(abi.encodeWithSelector(L2Block.BadHeaderLength.selector, 115));
        game.revealBlock(gameId, honest.headers[0], 0, truncated(honest.headers[1]), 1, 0);
        // The right headers at other positions than the claims'.
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.HeaderMismatch.selector);
        game.revealBlock(gameId, honest.headers[0], 0, honest.headers[1], inBatch(1), 0);
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.HeaderMismatch.selector);
        game.revealBlock(gameId, honest.headers[0], 1, honest.headers[1], 1, 0);
        vm.prank(PROPOSER);
        reveal(gameId, honest, 1);
        DisputeGame.Derivation memory d = game.getDerivation(gameId);
        vm.assertEq(uint256(d.source), uint256(DisputeGame.Source.Batch), "an odd position is a batch");
        vm.assertEq(uint256(d.sourceIndex), 0, "batch (1 - 1) / 2");
        vm.assertEq(uint256(d.position), 1, "position kept");
        vm.assertEq(uint256(d.parentPosition), 0, "the genesis block's position");
        vm.prank(CHALLENGER);
        game.disputeExecution(gameId);
        // Block 1 has 3 transactions: the defender claims the root after the first.
        DisputeGame.Game memory g = game.getGame(gameId);
        vm.assertEq(uint256(g.hi), 3, "one position per transaction");
        vm.assertTrue(g.defenderToMove, "the defender claims the midpoint");
        vm.prank(PROPOSER);
        game.claimMidpoint(gameId, 0, 3, honest.roots[1][1]);
        vm.prank(CHALLENGER);
        game.answer(gameId, 0, 3, false);
        bytes[] memory txs = honest.transactions[1];
        vm.expectRevert(DisputeGame.TransactionNotInBlock.selector);
        game.step(gameId, 0, 1, txs[1], merkleProof(txs, 0), "");
        game.step(gameId, 0, 1, txs[0], merkleProof(txs, 0), "");
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.DefenderWon), "honest step");
    }

    function test_AnOutputWhoseHeaderContradictsItIsRemovedWithoutAGame() public {
        bytes32 hash = honest.hashes[3];
        vm.prank(PROPOSER);
        registry.propose{value: BOND}(3, keccak256("credits the proposer"), hash, 1);
        vm.expectRevert(DisputeGame.HeaderMismatch.selector);
        game.proveOutputMismatch(0, honest.headers[2]);
        vm.prank(CHALLENGER);
        game.proveOutputMismatch(0, honest.headers[3]);
        vm.assertTrue(registry.getOutput(0).removed, "removed");
        vm.assertEq(registry.credit(CHALLENGER), BOND / 2, "half the bond to the prover");

        uint256 again = propose(honest, 3);
        vm.assertEq(again, 1, "indices are not reused");
        vm.expectRevert(DisputeGame.NoMismatch.selector);
        game.proveOutputMismatch(again, honest.headers[3]);
        vm.expectRevert(abi.encodeWithSelector(OutputRegistry.OutputRemoved.selector, 0));
        game.proveOutputMismatch(0, honest.headers[3]);
    }

    function test_GamesOnARemovedOutputAreCancelledAndRefunded() public {
        Chain memory forged = build(2, 0, FORGE_ROOT);
        uint256 output = propose(forged, 4);
        uint256 later = propose(forged, 9);
        uint256 second = open(output, GENESIS);
        uint256 first = open(output, GENESIS);
        uint256 onLater = open(later, GENESIS);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.OutputStillThere.selector, second));
        game.cancel(second);
        play(first, forged, honest);
        vm.assertEq(uint256(status(first)), uint256(DisputeGame.Status.ChallengerWon), "first won");
        vm.prank(PROPOSER);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.OutputGone.selector, second));
        game.claimMidpoint(second, 0, 4, bytes32(0));
        game.cancel(second);
        vm.assertEq(uint256(status(second)), uint256(DisputeGame.Status.Cancelled), "cancelled");
        vm.assertEq(game.credit(CHALLENGER), 2 * uint256(BOND), "both challenge bonds back");
        // The game on the later output is not touched: that output is still there.
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.OutputStillThere.selector, onLater));
        game.cancel(onLater);
        vm.assertEq(uint256(status(onLater)), uint256(DisputeGame.Status.Open), "still open");
    }

    function testFuzz_TheHonestSideAlwaysWins(
        uint8 tamperBlock,
        uint8 tamperTx,
        uint8 output,
        bool honestDefends,
        uint8 how
    ) public {
        uint256 n = bound(tamperBlock, 1, BLOCKS);
        Chain memory forged = build(n, bound(tamperTx, 0, 4), uint8(bound(how, 0, 2)));
        uint64 number = uint64(bound(output, n, BLOCKS));
        Chain memory defender = honestDefends ? honest : forged;
        Chain memory challenger = honestDefends ? forged : honest;
        uint256 index = propose(defender, number);
        uint256 gameId = open(index, GENESIS);
        play(gameId, defender, challenger);
        DisputeGame.Status expected = honestDefends ? DisputeGame.Status.DefenderWon : DisputeGame.Status.ChallengerWon;
        if (keccak256(defender.headers[number]) == keccak256(challenger.headers[number])) {
            // The forged transaction index was beyond the block's count: nothing forged.
            expected = DisputeGame.Status.DefenderWon;
        }
        vm.assertEq(uint256(status(gameId)), uint256(expected), "the honest side wins");
    }

    function test_ABlockHoldingTransactionsItsBatchDoesNotLoses() public {
        Chain memory forged = build(3, 2, FORGE_CONTENT);
        uint256 output = propose(forged, 9);
        uint256 gameId = open(output, GENESIS);
        play(gameId, forged, honest);
        DisputeGame.Game memory g = game.getGame(gameId);
        DisputeGame.Derivation memory d = game.getDerivation(gameId);
        vm.assertEq(uint256(g.status), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        vm.assertTrue(d.contentDisputed, "by the content of");
        vm.assertEq(uint256(g.blockNumber), 3, "the forged block");
        vm.assertEq(uint256(d.contentIndex), 2, "at the forged transaction");
        vm.assertTrue(registry.getOutput(output).removed, "output removed");
    }

    function test_ASlotItsBatchGarblesIsTheUndecodableItem() public {
        // Batch 1 garbles block 2's one transaction (an unknown kind): derivation's block
        // holds 0xFE there.
        Chain memory derived = build(2, 0, FORGE_UNDECODABLE);
        inbox.postCalldata(encodeBatch(derived));
        bytes memory garbled = encodeBatch(derived);
        // A block holding a real transaction in that slot loses by its content.
        uint256 gameId = revealAt(honest, 2, inBatch(1), 0);
        vm.prank(CHALLENGER);
        game.disputeContent(gameId);
        vm.prank(CHALLENGER);
        game.proveBatchTransaction(gameId, garbled, false, "");
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        settle(gameId);
        // The block derivation makes, 0xFE in the slot, cannot be disputed so.
        gameId = revealAt(derived, 2, inBatch(1), 0);
        vm.prank(CHALLENGER);
        game.disputeContent(gameId);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.proveBatchTransaction(gameId, garbled, false, "");
    }

    function test_ABlockOfAnotherTimeThanItsBatchLoses() public {
        Chain memory forged = build(4, 0, FORGE_TIME);
        uint256 output = propose(forged, 6);
        uint256 gameId = open(output, GENESIS);
        play(gameId, forged, honest);
        DisputeGame.Game memory g = game.getGame(gameId);
        vm.assertEq(uint256(g.status), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        vm.assertFalse(game.getDerivation(gameId).contentDisputed, "on the batch's block list alone");
        vm.assertEq(uint256(g.blockNumber), 4, "at the block");
    }

    function test_DerivationClaimsAgainstAnHonestBlockFail() public {
        uint256 output = propose(honest, 2);
        uint256 gameId = open(output, GENESIS);
        vm.prank(PROPOSER);
        game.claimMidpoint(gameId, 0, 2, claimOf(honest, 1));
        vm.prank(CHALLENGER);
        game.answer(gameId, 0, 2, true);
        vm.prank(PROPOSER);
        reveal(gameId, honest, 2);
        // The batch agrees on block 2's time, count and link.
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeBatchBlock(gameId, batch, false);
        // Block 2 has 1 transaction: its root is the leaf, which the batch agrees with.
        vm.prank(CHALLENGER);
        game.disputeContent(gameId);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.proveBatchTransaction(gameId, batch, false, "");
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.disputeExecution(gameId);
        vm.warp(block.timestamp + CLOCK + 1);
        game.timeout(gameId);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.DefenderWon), "defender won");
    }

    function test_ANonZeroNodePastTheCountLosesAtOnce() public {
        // Block 1 has 3 transactions: a tree of 2 levels whose 4th leaf must be zero.
        uint256 output = propose(honest, 1);
        uint256 gameId = open(output, GENESIS);
        vm.prank(PROPOSER);
        reveal(gameId, honest, 1);
        vm.prank(CHALLENGER);
        game.disputeContent(gameId);
        bytes[] memory txs = honest.transactions[1];
        vm.prank(PROPOSER);
        game.revealChildren(gameId, treeNode(txs, 1, 0), treeNode(txs, 1, 1));
        vm.prank(CHALLENGER);
        game.descend(gameId, true);
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.HeaderMismatch.selector);
        game.revealChildren(gameId, keccak256(txs[2]), keccak256("a 4th transaction"));
        vm.prank(PROPOSER);
        game.revealChildren(gameId, keccak256(txs[2]), bytes32(0));
        // The honest zero past the count cannot be disputed.
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.descend(gameId, true);
    }

    function test_AForcedBlockMustHoldThePortalsRecords() public {
        // A defender names forced record 0 as block 3's source, but its block holds
        // other transactions: the challenger descends to the first and shows the record.
        uint256 gameId = revealAt(honest, 3, FORCED_POSITION, 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.disputeBatchBlock(gameId, batch, false);
        vm.prank(CHALLENGER);
        game.disputeContent(gameId);
        bytes[] memory txs = honest.transactions[3];
        vm.prank(PROPOSER);
        game.revealChildren(gameId, treeNode(txs, 1, 0), treeNode(txs, 1, 1));
        vm.prank(CHALLENGER);
        game.descend(gameId, false);
        vm.prank(PROPOSER);
        game.revealChildren(gameId, treeNode(txs, 2, 0), treeNode(txs, 2, 1));
        vm.prank(CHALLENGER);
        game.descend(gameId, false);
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(BatchOpener.UnknownForced.selector, uint64(0)));
        game.proveForcedTransaction(gameId, FORCER, hex"00");
        vm.prank(CHALLENGER);
        game.proveForcedTransaction(gameId, FORCER, FORCED_PAYLOAD);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        settle(gameId);
    }

    /// @dev Opens a game on `chain`'s output at block `number`, proposed at `position`, and
    /// bisects to it (the challenger agrees with every midpoint); the defender reveals
    /// the block at that position (naming forced record `record` if it is even).
    function revealAt(Chain memory chain, uint64 number, uint64 position, uint64 record)
        internal
        returns (uint256 gameId)
    {
        // Proposed in a later L1 block than the batches posted so far: they are in its head.
        vm.roll(block.number + 1);
        gameId = open(proposeAt(chain, number, position), GENESIS);
        agreeAndReveal(gameId, chain, number, position, record);
    }

    /// @dev Plays `gameId` on `chain`'s block `number`: the challenger agrees down to it,
    /// the defender reveals it at `position` (forced record `record` for an even one).
    function agreeAndReveal(uint256 gameId, Chain memory chain, uint64 number, uint64 position, uint64 record)
        internal
    {
        DisputeGame.Game memory g = game.getGame(gameId);
        while (g.hi - g.lo > 1) {
            vm.prank(PROPOSER);
            game.claimMidpoint(gameId, g.lo, g.hi, claimOf(chain, g.lo + (g.hi - g.lo) / 2));
            vm.prank(CHALLENGER);
            game.answer(gameId, g.lo, g.hi, true);
            g = game.getGame(gameId);
        }
        vm.prank(PROPOSER);
        game.revealBlock(
            gameId, chain.headers[number - 1], chain.positions[number - 1], chain.headers[number], position, record
        );
    }

    /// @dev Block 2 of `chain` (one transaction, at 2 000 ms, parent at 1 000 ms)
    /// revealed as derivation's block for forced record `record`.
    function revealForcedBlockTwo(Chain memory chain, uint64 record) internal returns (uint256) {
        // Record 0's window ended at L1 block 15, after batch 0 and before any other:
        // its block goes before batch 1.
        vm.roll(100);
        return revealAt(chain, 2, FORCED_POSITION, record);
    }

    function test_AForcedBlockHoldsItsRecordAloneAtTheRecordsTime() public {
        // Block 2 holds one transaction at 2 000 ms, its parent is at 1 000 ms and record
        // 0 was made at L1 time 2 s: a forced block for it can be block 2.
        uint256 gameId = revealForcedBlockTwo(honest, 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeForcedBlock(gameId, queue(0));
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.disputeBatchBlock(gameId, batch, false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.Open), "still open");
    }

    function test_AForcedBlockAtAnotherTimeLoses() public {
        // The forged chain's block 2 is 1 ms late: not the record's time nor the parent's.
        Chain memory forged = build(2, 0, FORGE_TIME);
        uint256 gameId = revealForcedBlockTwo(forged, 0);
        vm.prank(CHALLENGER);
        game.disputeForcedBlock(gameId, queue(0));
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        settle(gameId);
    }

    function test_AForcedBlockOfAMissingRecordLoses() public {
        uint256 gameId = revealForcedBlockTwo(honest, 1);
        vm.prank(CHALLENGER);
        game.disputeForcedBlock(gameId, queue(0));
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        settle(gameId);
    }

    function test_AForcedBlockOfSeveralTransactionsLoses() public {
        // Block 3 holds four transactions; a forced block holds one.
        uint256 gameId = revealAt(honest, 3, FORCED_POSITION, 0);
        vm.prank(PROPOSER);
        vm.expectRevert(DisputeGame.NotYourMove.selector);
        game.disputeForcedBlock(gameId, queue(0));
        vm.prank(CHALLENGER);
        game.disputeForcedBlock(gameId, queue(0));
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        settle(gameId);
    }

    /// @dev The stand-in prover's witness of a forced queue count.
    function queue(uint64 count) internal pure returns (bytes memory) {
        return abi.encode(count);
    }

    function test_AForcedBlockOfAnotherRecordThanTheChainsNextLoses() public {
        // Record 0 exists and block 2 fits it, but the parent's queue says 1 is next.
        uint256 gameId = revealForcedBlockTwo(honest, 0);
        vm.prank(CHALLENGER);
        game.disputeForcedBlock(gameId, queue(1));
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        settle(gameId);
    }

    function test_ABatchPostedAfterAnOverdueRecordStartsAfterItsForcedBlock() public {
        // Batch 1 repeats batch 0 from L1 block 100; record 0 (L1 block 10, window 5) was
        // overdue by then: derivation puts its forced block (position 2: before batch 1)
        // before the batch's first.
        vm.roll(100);
        inbox.postCalldata(batch);
        uint256 gameId = revealAt(honest, 1, inBatch(1), 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.WrongStage.selector);
        game.disputeForcedBlock(gameId, queue(0));
        // The chain had included record 0 already: nothing is overdue.
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeEarlierSource(gameId, FORCED_POSITION, queue(1), "", false);
        // Position 0 (before batch 0, posted in L1 block 1, inside the window) is not the
        // record's.
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeEarlierSource(gameId, 0, queue(0), "", false);
        vm.prank(CHALLENGER);
        game.disputeEarlierSource(gameId, FORCED_POSITION, queue(0), "", false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "challenger won");
        settle(gameId);
    }

    function test_ABatchPostedBeforeTheWindowEndsOrContinuingNeedsNoForcedBlock() public {
        // Batch 0 was posted at L1 block 1, before record 0's window ended (15).
        uint256 gameId = revealAt(honest, 1, inBatch(0), 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeEarlierSource(gameId, 0, queue(0), "", false);
        // Block 2 of a batch posted later, whose block 1 the parties agree it carried:
        // derivation takes the batch whole, no forced block goes inside (position 2 is
        // before the parent's).
        vm.roll(100);
        inbox.postCalldata(batch);
        Chain memory reposted = honest;
        reposted.positions[1] = inBatch(1);
        gameId = revealAt(reposted, 2, inBatch(1), 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeEarlierSource(gameId, FORCED_POSITION, queue(0), "", false);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeBatchBlock(gameId, batch, false);
    }

    function test_AForcedBlockAtAnotherPositionThanItsRecordsLoses() public {
        // Record 0's window ended (L1 block 15) with batch 0 posted before it and none
        // after: its block goes before batch 1 (position 2), not before batch 2 ...
        vm.roll(100);
        uint256 gameId = revealAt(honest, 2, 2 * 2, 0);
        vm.prank(CHALLENGER);
        game.disputeForcedBlock(gameId, queue(0));
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "a later position lost");
        settle(gameId);
        // ... nor before batch 0 (position 0, before the parent's: batch 0's).
        gameId = revealAt(honest, 2, 0, 0);
        vm.prank(CHALLENGER);
        game.disputeForcedBlock(gameId, queue(0));
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "an earlier position lost");
        settle(gameId);
        // Judged at an L1 head before the window's last block, no forced block can be
        // derived at all (revealAt proposes one block later: the head is 14).
        vm.roll(14);
        gameId = revealAt(honest, 2, FORCED_POSITION, 0);
        vm.prank(CHALLENGER);
        game.disputeForcedBlock(gameId, queue(0));
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "a premature block lost");
        settle(gameId);
        // At a head that is the window's last block, derivation has read it and includes
        // the record (as the Rust pipeline does).
        vm.roll(15);
        gameId = revealAt(honest, 2, FORCED_POSITION, 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeForcedBlock(gameId, queue(0));
    }

    // ---------------------------------------------------------------- sources

    /// @dev Posts batches 1 (blocks 1..6), 2 (7..12, linking at 7) and 3 (5..12, carrying
    /// 7 but not starting there), and returns `honest` as the parties agree derivation
    /// took it for these tests: blocks 1..6 from batch 1, 7..12 from batch 2.
    function splitChain() internal returns (Chain memory chain) {
        inbox.postCalldata(encodeBlocks(honest, 1, 6, 0));
        inbox.postCalldata(encodeBlocks(honest, 7, BLOCKS, 0));
        inbox.postCalldata(encodeBlocks(honest, 5, BLOCKS, 0));
        chain = honest;
        for (uint64 n = 1; n <= BLOCKS; n++) {
            chain.positions[n] = n <= 6 ? inBatch(1) : inBatch(2);
        }
    }

    function test_TheFirstBatchThatLinksIsTheSource() public {
        Chain memory chain = splitChain();
        bytes memory linking = encodeBlocks(honest, 7, BLOCKS, 0);
        // The same block named from batch 3, which carries it but starts at 5, loses:
        // batch 3 does not link at 7, and batch 2 (earlier) does.
        uint256 gameId = revealAt(chain, 7, inBatch(3), 0);
        vm.prank(CHALLENGER);
        game.disputeBatchBlock(gameId, encodeBlocks(honest, 5, BLOCKS, 0), false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "batch 3 is no candidate");
        settle(gameId);
        gameId = revealAt(chain, 7, inBatch(3), 0);
        vm.prank(CHALLENGER);
        game.disputeEarlierSource(gameId, inBatch(2), "", linking, false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "batch 2 comes first");
        settle(gameId);

        // Named from batch 2, the block stands: batch 2 links at 7 and agrees on the
        // block, batch 1 (the parent's) does not carry it, no forced record is due.
        gameId = revealAt(chain, 7, inBatch(2), 0);
        vm.startPrank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeBatchBlock(gameId, linking, false);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeEarlierSource(gameId, inBatch(1), "", encodeBlocks(honest, 1, 6, 0), false);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeEarlierSource(gameId, 2 * 2, queue(0), "", false);
        // Not a position between the parent's and the block's.
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeEarlierSource(gameId, inBatch(2), "", linking, false);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeEarlierSource(gameId, inBatch(0), "", batch, false);
        // A batch the opening is not.
        vm.expectRevert(abi.encodeWithSelector(BatchOpener.CommitmentMismatch.selector, 1));
        game.disputeEarlierSource(gameId, inBatch(1), "", linking, false);
        vm.stopPrank();
    }

    /// @notice Attack: an output for a block whose data is not on L1 when it is proposed
    /// (a far-future block the challenger cannot derive), saved by posting the data once
    /// the game is open. The game judges derivation from L1 up to the output's L1 head:
    /// a batch posted later is no source.
    function test_DataPostedAfterTheProposalDoesNotSaveAnOutput() public {
        inbox.postCalldata(encodeBlocks(honest, 1, 6, 0));
        Chain memory chain = honest;
        for (uint64 n = 1; n <= BLOCKS; n++) {
            chain.positions[n] = n <= 6 ? inBatch(1) : inBatch(2);
        }
        vm.roll(block.number + 1);
        uint256 output = proposeAt(chain, 7, inBatch(2));
        vm.assertEq(uint256(registry.getOutput(output).l1Head), block.number - 1, "judged at the block before");
        uint256 gameId = open(output, GENESIS);
        // The data appears after the proposal: the block it carries is the output's.
        vm.roll(block.number + 1);
        bytes memory late = encodeBlocks(honest, 7, BLOCKS, 0);
        inbox.postCalldata(late);
        agreeAndReveal(gameId, chain, 7, inBatch(2), 0);
        vm.prank(CHALLENGER);
        game.disputeBatchBlock(gameId, late, false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "a late batch is no source");
        settle(gameId);
        vm.assertTrue(registry.getOutput(output).removed, "removed");

        // Proposed again now that the data is on L1, the same output stands.
        vm.roll(block.number + 1);
        uint256 again = proposeAt(chain, 7, inBatch(2));
        gameId = open(again, GENESIS);
        agreeAndReveal(gameId, chain, 7, inBatch(2), 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeBatchBlock(gameId, late, false);
    }

    function test_TheParentsBatchKeepsTheBlocksItCarries() public {
        Chain memory chain = splitChain();
        // Block 8 follows block 7 from batch 2, which carries 8 too: batch 4, which links
        // at 8, is not the source.
        inbox.postCalldata(encodeBlocks(honest, 8, BLOCKS, 0));
        uint256 gameId = revealAt(chain, 8, inBatch(4), 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeBatchBlock(gameId, encodeBlocks(honest, 8, BLOCKS, 0), false);
        vm.prank(CHALLENGER);
        game.disputeEarlierSource(gameId, inBatch(2), "", encodeBlocks(honest, 7, BLOCKS, 0), false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "the parent's batch");
        settle(gameId);
        // A position before the parent's loses whatever the batch says.
        gameId = revealAt(chain, 8, inBatch(0), 0);
        vm.prank(CHALLENGER);
        game.disputeBatchBlock(gameId, batch, false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "before the parent");
        settle(gameId);
    }

    function test_AMissingMalformedOrDisorderedBatchIsNoSource() public {
        Chain memory chain = splitChain();
        // Batch 4 does not exist.
        uint256 gameId = revealAt(chain, 7, inBatch(4), 0);
        vm.prank(CHALLENGER);
        game.disputeBatchBlock(gameId, "", false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), "a missing batch");
        settle(gameId);
        // An unknown version.
        bytes memory malformed = encodeBlocks(honest, 7, BLOCKS, 0);
        malformed[0] = 0x07;
        namedBatchLoses(chain, malformed, "a malformed batch");
        // Blocks 7..8 whose second is a millisecond before the first.
        namedBatchLoses(chain, encodeBlocks(honest, 7, 8, 6999), "times out of order");
        // The same blocks in order link (and a challenger cannot show otherwise).
        bytes memory ordered = encodeBlocks(honest, 7, 8, 0);
        gameId = revealAt(chain, 7, inBatch(uint64(inbox.postCalldata(ordered))), 0);
        vm.prank(CHALLENGER);
        vm.expectRevert(DisputeGame.NoFault.selector);
        game.disputeBatchBlock(gameId, ordered, false);
    }

    /// @dev Posts `posted` as the next batch and reveals `chain`'s block 7 as taken from
    /// it: the challenger's `disputeBatchBlock` must win.
    function namedBatchLoses(Chain memory chain, bytes memory posted, string memory why) internal {
        uint256 gameId = revealAt(chain, 7, inBatch(uint64(inbox.postCalldata(posted))), 0);
        vm.prank(CHALLENGER);
        game.disputeBatchBlock(gameId, posted, false);
        vm.assertEq(uint256(status(gameId)), uint256(DisputeGame.Status.ChallengerWon), why);
        settle(gameId);
    }

    // ---------------------------------------------------------------- defenders

    /// @dev `who` takes the output's side in dispute `disputeId` with a bond.
    function join(address who, uint256 disputeId) internal returns (uint256 gameId) {
        vm.deal(who, who.balance + BOND);
        vm.prank(who);
        return game.defend{value: BOND}(disputeId);
    }

    /// @notice Attack: a challenger disputes a correct output whose proposer is offline,
    /// and a sock of the challenger joins the defense to lose it on purpose. One honest
    /// defender who joins is enough: the challenger must beat it too, and cannot.
    function test_AnyoneMayDefendAndOneHonestDefenderSavesACorrectOutput() public {
        address sock = address(0x50C);
        address keeper = address(0x4EE);
        address slow = address(0x510);
        uint256 correct = propose(honest, 8);
        uint256 proposersGame = open(correct, GENESIS);
        uint256 disputeId = game.disputeOf(proposersGame);
        uint256 openedAt = block.timestamp;
        vm.warp(openedAt + 5);
        uint256 sockGame = join(sock, disputeId);
        uint256 keepersGame = join(keeper, disputeId);
        uint256 slowGame = join(slow, disputeId);
        DisputeGame.Game memory kg = game.getGame(keepersGame);
        vm.assertEq(kg.defender, keeper, "the keeper defends");
        vm.assertEq(kg.challenger, CHALLENGER, "against the dispute's challenger");
        vm.assertEq(uint256(kg.lastMoveAt), openedAt, "on the defenders' clock, from the opening");
        vm.assertEq(uint256(game.getDispute(disputeId).gamesLive), 4, "four games");
        vm.prank(keeper);
        game.claimMidpoint(keepersGame, 0, 8, claimOf(honest, 4));
        vm.prank(slow);
        game.claimMidpoint(slowGame, 0, 8, claimOf(honest, 4));

        // The sock and the proposer lose on their clocks; the output stays while the
        // keeper's game is live, and no one may join any more.
        vm.warp(openedAt + CLOCK + 1);
        game.timeout(sockGame);
        game.timeout(proposersGame);
        vm.assertEq(uint256(status(sockGame)), uint256(DisputeGame.Status.ChallengerWon), "the sock lost");
        vm.assertEq(uint256(status(proposersGame)), uint256(DisputeGame.Status.ChallengerWon), "the proposer lost");
        vm.assertFalse(registry.getOutput(correct).removed, "not removed while a defender plays");
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DisputeUndecided.selector, disputeId));
        game.resolveDispute(disputeId);
        vm.assertEq(game.credit(CHALLENGER), BOND / 2, "the sock's bond: half to the challenger");

        // The challenger, which spent its clock waiting in the keeper's game, cannot beat
        // it: it loses there, and with it the dispute.
        vm.warp(block.timestamp + 5);
        game.timeout(keepersGame);
        vm.assertEq(uint256(status(keepersGame)), uint256(DisputeGame.Status.DefenderWon), "the keeper won");
        vm.assertEq(
            uint256(game.getDispute(disputeId).status), uint256(DisputeGame.Status.DefenderWon), "so did the output"
        );
        vm.assertEq(uint256(registry.getOutput(correct).openDisputes), 0, "no dispute holds it");
        vm.assertEq(game.credit(keeper), BOND + BOND / 2, "its bond back and half the challenger's");
        // The undecided game is over: no move, only its bond back.
        vm.prank(CHALLENGER);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.GameOver.selector, slowGame));
        game.answer(slowGame, 0, 8, true);
        game.cancel(slowGame);
        vm.assertEq(game.credit(slow), BOND, "an undecided defender's bond is returned");
        vm.warp(block.timestamp + WINDOW);
        vm.assertTrue(registry.isFinalized(correct), "the output finalizes");
    }

    /// @notice Attack: a proposer with a wrong output and sock defenders who join to wear
    /// out the honest challenger, or to win one game and save the output. The challenger
    /// must beat every defender; each one it beats pays it half a bond (the other half
    /// burnt), and the output goes once the defenders' clock has run out with no game
    /// live. No one may join after that.
    function test_TheChallengerMustBeatEveryDefenderAndEachPays() public {
        Chain memory forged = build(5, 1, FORGE_ROOT);
        uint256 wrong = propose(forged, 10);
        uint256 first = open(wrong, GENESIS);
        uint256 disputeId = game.disputeOf(first);
        uint256[] memory socks = new uint256[](4);
        for (uint256 i = 0; i < socks.length; i++) {
            socks[i] = join(address(uint160(0x5000 + i)), disputeId);
        }
        for (uint256 i = 0; i < socks.length; i++) {
            play(socks[i], forged, honest);
            vm.assertEq(uint256(status(socks[i])), uint256(DisputeGame.Status.ChallengerWon), "sock beaten");
            vm.assertFalse(registry.getOutput(wrong).removed, "not before every game is won");
        }
        vm.warp(uint256(game.getDispute(disputeId).openedAt) + CLOCK - 1);
        join(address(0x5999), disputeId);
        vm.warp(block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(DisputeGame.DefenseClosed.selector, disputeId));
        join(address(0x6000), disputeId);
        runOut(first);
        vm.assertFalse(registry.getOutput(wrong).removed, "the late joiner's game is live");
        runOut(game.gameCount() - 1);
        vm.assertTrue(registry.getOutput(wrong).removed, "removed once every defender is beaten");
        vm.assertEq(uint256(game.getDispute(disputeId).status), uint256(DisputeGame.Status.ChallengerWon), "won");
        vm.assertEq(game.credit(CHALLENGER), BOND + 5 * (BOND / 2), "its bond and half of each sock's");
        vm.assertEq(registry.credit(CHALLENGER), BOND / 2, "half the proposer's");
        vm.assertEq(game.burnt(), 5 * (BOND / 2), "half of each sock's bond burnt");
    }

    /// @notice Attack: a flood of cheap disputes against one correct output, to run out
    /// the honest defender's clock. Each is its own game with its own clocks: the
    /// defender answers all of them in the same seconds, wins every one, and each
    /// griefer pays half a bond to it and half to no one.
    function test_AFloodOfDisputesAgainstACorrectOutputIsWonAndPaidFor() public {
        uint256 correct = propose(honest, 8);
        uint256 games = 200;
        uint256 firstGame = game.gameCount();
        for (uint256 i = 0; i < games; i++) {
            address griefer = address(uint160(0x7000 + i));
            vm.deal(griefer, BOND);
            vm.prank(griefer);
            game.open{value: BOND}(correct, GENESIS);
        }
        vm.assertEq(uint256(registry.getOutput(correct).openDisputes), games, "every dispute holds the output");
        vm.warp(block.timestamp + CLOCK - 1);
        for (uint256 i = 0; i < games; i++) {
            vm.prank(PROPOSER);
            game.claimMidpoint(firstGame + i, 0, 8, claimOf(honest, 4));
        }
        vm.warp(block.timestamp + CLOCK + 1);
        for (uint256 i = 0; i < games; i++) {
            game.timeout(firstGame + i);
            vm.assertEq(uint256(status(firstGame + i)), uint256(DisputeGame.Status.DefenderWon), "defender won");
        }
        vm.assertEq(uint256(registry.getOutput(correct).openDisputes), 0, "no dispute left");
        vm.assertEq(game.credit(PROPOSER), games * (BOND / 2), "half of each griefer's bond");
        vm.assertEq(game.burnt(), games * (BOND / 2), "and half burnt");
        vm.warp(block.timestamp + WINDOW);
        vm.assertTrue(registry.isFinalized(correct), "the output finalizes");
    }

    /// @notice Attack: sock defenders who join the honest challenger's dispute to wear it
    /// out, then have a colluding challenger remove the output through another dispute
    /// (the proposer silent there), to get their bonds back by `cancel`. A defender of a
    /// removed output defended a wrong one: its bond is lost all the same.
    function test_SocksOfARemovedOutputLoseTheirBondsHoweverItGoes() public {
        address colluder = address(0xC011);
        uint256 wrong = propose(build(4, 0, FORGE_ROOT), 8);
        vm.deal(colluder, BOND);
        vm.prank(colluder);
        uint256 staged = game.open{value: BOND}(wrong, GENESIS);
        vm.warp(block.timestamp + 2);
        uint256 honestGame = open(wrong, GENESIS);
        uint256 disputeId = game.disputeOf(honestGame);
        uint256[] memory socks = new uint256[](3);
        for (uint256 i = 0; i < socks.length; i++) {
            socks[i] = join(address(uint160(0x5100 + i)), disputeId);
            vm.prank(address(uint160(0x5100 + i)));
            game.claimMidpoint(socks[i], 0, 8, bytes32(uint256(7)));
        }
        // The proposer is silent in the colluder's dispute, which removes the output.
        vm.warp(block.timestamp + CLOCK);
        game.timeout(staged);
        vm.assertTrue(registry.getOutput(wrong).removed, "removed by the staged dispute");
        game.cancel(honestGame);
        for (uint256 i = 0; i < socks.length; i++) {
            game.cancel(socks[i]);
            vm.assertEq(game.credit(address(uint160(0x5100 + i))), 0, "no refund for a sock");
        }
        vm.assertEq(game.credit(CHALLENGER), BOND + 3 * (BOND / 2), "its bond, and half of each sock's");
        vm.assertEq(game.burnt(), 3 * (BOND / 2), "the other halves burnt");
    }
}
