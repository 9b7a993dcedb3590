// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepProver} from "./ProverInterfaces.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";
import {StepRules} from "./StepRules.sol";

/// @title PortfolioSteps
/// @notice What the one-step provers of kinds that move portfolios (matches, liquidations,
/// margin) share: the entry point, where the empty transaction changes nothing and every
/// other one goes to the prover's `executeKind`; the market leaves those portfolios' positions need, read once
/// each at the front of the witness, and the traded market's leaf, which the step
/// writes.
/// @dev The read markets are the markets of the portfolios' positions other than the
/// traded one, each once, in first-seen order over the portfolios in the order the kind
/// names them. Lookups by id go through a table of residues (`id % 1024`), scanning only
/// when two ids share one.
abstract contract PortfolioSteps is StepRules, IStepProver {
    uint256 internal constant MARKET_SLOTS = 1024;

    /// @inheritdoc IStepProver
    function execute(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        bytes calldata witness
    ) external view returns (bytes32) {
        if (transaction.length == 0) return preRoot;
        return executeKind(preRoot, blockNumber, timestampMs, transaction, witness);
    }

    /// @dev The root after a non-empty `transaction` of one of this prover's kinds (it
    /// reverts with `UnsupportedKind` on any other).
    function executeKind(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        bytes calldata witness
    ) internal view virtual returns (bytes32);

    /// @notice The markets a step reads: `count` leaves at the front of the witness with
    /// `ids`, and the traded market (`traded`, its leaf `tradedLeaf`: a copy the step
    /// updates, empty when absent).
    struct MarketSet {
        uint256 count;
        uint32[] ids;
        uint256[] slots;
        uint32 traded;
        bytes tradedLeaf;
    }

    /// @dev The markets `portfolios` need besides `traded`, and the traded market's leaf
    /// (`leaves[tradedIndex]`); the witness must hold exactly `readCount` read markets.
    function marketSetOf(
        PortfolioRisk.Portfolio[] memory portfolios,
        uint32 traded,
        Leaf[] memory leaves,
        uint256 readCount,
        uint256 tradedIndex
    ) internal pure returns (MarketSet memory set) {
        set = marketIdsOf(portfolios, traded);
        readMarketLeaves(set, leaves, readCount, tradedIndex);
    }

    /// @dev The ids of the markets `portfolios` need besides `traded` (no leaf read yet).
    function marketIdsOf(PortfolioRisk.Portfolio[] memory portfolios, uint32 traded)
        internal
        pure
        returns (MarketSet memory set)
    {
        set.traded = traded;
        set.ids = new uint32[](portfolios.length * PortfolioRisk.POSITIONS_MAX);
        set.slots = new uint256[](MARKET_SLOTS);
        for (uint256 j = 0; j < portfolios.length; j++) {
            PortfolioRisk.Position[] memory positions = portfolios[j].positions;
            for (uint256 p = 0; p < positions.length; p++) {
                uint32 id = positions[p].market;
                if (id == traded || findMarket(set, id) < set.count) continue;
                set.ids[set.count] = id;
                uint256 slot = id % MARKET_SLOTS;
                if (set.slots[slot] == 0) set.slots[slot] = set.count + 1;
                set.count++;
            }
        }
        uint32[] memory ids = set.ids;
        uint256 count = set.count;
        assembly ("memory-safe") {
            mstore(ids, count)
        }
    }

    /// @dev Checks the witness holds `set`'s markets (exactly `readCount` leaves at its
    /// front, each a market or absent) and takes the traded market's leaf
    /// (`leaves[tradedIndex]`).
    function readMarketLeaves(MarketSet memory set, Leaf[] memory leaves, uint256 readCount, uint256 tradedIndex)
        internal
        pure
    {
        uint256 count = set.count;
        if (count != readCount) revert WrongLeafCount(leaves.length, leaves.length - readCount + count);
        for (uint256 i = 0; i < count; i++) {
            if (leaves[i].present && !PortfolioRisk.isMarket(leaves[i].value)) revert BadLeafValue(i);
        }
        if (leaves[tradedIndex].present) {
            set.tradedLeaf = bytes.concat(leaves[tradedIndex].value);
            if (!PortfolioRisk.isMarket(set.tradedLeaf)) revert BadLeafValue(tradedIndex);
        }
    }

    /// @dev The index of `id` among the read markets (`count` if it is not one).
    function findMarket(MarketSet memory set, uint32 id) internal pure returns (uint256) {
        uint256 entry = set.slots[id % MARKET_SLOTS];
        if (entry == 0) return set.count;
        if (set.ids[entry - 1] == id) return entry - 1;
        for (uint256 k = 0; k < set.count; k++) {
            if (set.ids[k] == id) return k;
        }
        return set.count;
    }

    /// @dev The market leaf of each of `p`'s positions; not known when one is absent.
    function marketsOf(MarketSet memory set, Leaf[] memory leaves, PortfolioRisk.Portfolio memory p)
        internal
        pure
        returns (bool known, bytes[] memory markets)
    {
        markets = new bytes[](p.positions.length);
        for (uint256 i = 0; i < markets.length; i++) {
            uint32 id = p.positions[i].market;
            if (id == set.traded) {
                if (set.tradedLeaf.length == 0) return (false, markets);
                markets[i] = set.tradedLeaf;
                continue;
            }
            uint256 k = findMarket(set, id);
            if (k == set.count || !leaves[k].present) return (false, markets);
            markets[i] = leaves[k].value;
        }
        return (true, markets);
    }

    /// @dev The keys of the read markets, at the front of `keys`.
    function marketKeys(MarketSet memory set, bytes[] memory keys) internal pure {
        for (uint256 i = 0; i < set.count; i++) {
            keys[i] = abi.encodePacked(uint8(0x05), set.ids[i]);
        }
    }

    /// @dev The read markets are only read: their proofs must hold against the root
    /// before the step's writes.
    function checkMarketsUnchanged(bytes32 root, MarketSet memory set, bytes[] memory keys, Leaf[] memory leaves)
        internal
        pure
    {
        for (uint256 i = 0; i < set.count; i++) {
            checkUnchanged(root, keys[i], leaves[i]);
        }
    }

    /// @dev The traded market's leaf with its open interest (the total long size) moved by
    /// what two accounts' long sizes did; with `price`, the last price too.
    function moveOpenInterest(bytes memory m, int256 longBefore, int256 longAfter, uint64 price, bool setPrice)
        internal
        pure
    {
        int256 interest = int256(PortfolioRisk.readUint(m, 58, 8)) + longAfter - longBefore;
        // Rust's `as u64` of an i64: the low 64 bits.
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes8 stored = bytes8(uint64(uint256(interest)));
        bytes8 last = bytes8(price);
        for (uint256 b = 0; b < 8; b++) {
            m[58 + b] = stored[b];
            if (setPrice) m[82 + b] = last[b];
        }
    }

    /// @dev Writes a portfolio's leaf, or removes it when the portfolio is left with no
    /// cash and no positions (the STF stores no empty portfolio).
    function writePortfolio(
        bytes32 root,
        bytes memory key,
        Leaf memory leaf,
        uint256 index,
        PortfolioRisk.Portfolio memory p
    ) internal pure returns (bytes32) {
        if (p.cash == 0 && p.positions.length == 0) return remove(root, key, leaf, index);
        return write(root, key, leaf, index, PortfolioRisk.encode(p));
    }

    function max0(int256 value) internal pure returns (int256) {
        return value > 0 ? value : int256(0);
    }
}
