// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPortalRecords} from "./PortalRecords.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";
import {PortfolioSteps} from "./PortfolioSteps.sol";
import {StepRules} from "./StepRules.sol";

/// @title LiquidationStepProver
/// @notice The one-step prover's liquidations (0x13) and auto-deleveragings (0x14);
/// `StepProver` forwards them here. Any other kind reverts `UnsupportedKind`.
/// @dev A liquidation (`Ledger::apply_signed_liquidation`, `Clearinghouse::liquidate`,
/// docs/spec/clearinghouse.md §8) is signed by the liquidator, who takes over `size` of
/// the target's position in `market` at the mark: refused when expired, when the nonce is
/// used or stale, when the market is not active and priced, when the liquidator is the
/// target, when the target (normalised) is not below its maintenance margin, when the
/// size is zero, off the lot or more than the target holds, or when the liquidator would
/// hold more than 32 positions or, its maintenance risen, not cover its initial margin.
/// The position moves at the mark (the target receives its value rounded down, the
/// liquidator pays it rounded up, the difference to the insurance fund); the target pays
/// a penalty of 1.5 % of the notional capped at its remaining equity, half of it to the
/// liquidator and half to the insurance fund; a target left without positions and with
/// negative cash is covered by the insurance fund as far as it goes. Leaves: the markets
/// of the target's then the liquidator's positions other than `market` (read only, first
/// seen), the liquidator's account (its nonce), the target's portfolio, the liquidator's
/// (unless it is the target), the market, the clearing totals.
///
/// An auto-deleveraging (`Clearinghouse::auto_deleverage`, §8.2; unsigned, anyone may
/// send it) closes `size` of a bankrupt target's position (negative equity, more deficit
/// than the insurance fund holds) against a counterparty's opposite position at the mark;
/// the counterparty also pays the target the deficit's share of this size
/// (ceil(deficit · size / |held|), capped at the deficit and at its own remaining
/// equity). Refused unless the market is active and priced, the two differ, the target is
/// bankrupt beyond the fund, and the size is a positive multiple of the lot within both
/// positions, which are on opposite sides. Leaves as a liquidation's without the account.
contract LiquidationStepProver is PortfolioSteps {
    /// @notice kind ‖ target ‖ market u32 ‖ size u64 ‖ nonce u64 ‖ expiryMs u64 ‖ r ‖ s ‖ v.
    uint256 internal constant LIQUIDATE_BYTES = 114;
    /// @notice kind ‖ target ‖ market u32 ‖ counterparty ‖ size u64.
    uint256 internal constant AUTO_DELEVERAGE_BYTES = 53;
    bytes32 internal constant LIQUIDATE_TYPEHASH =
        keccak256("Liquidate(address target,uint32 market,uint64 size,uint64 nonce,uint64 expiryMs)");
    /// @notice LiquidationParams::default: the penalty, ppm of the notional at mark, and
    /// the liquidator's share of it, ppm.
    int256 internal constant PENALTY_PPM = 15_000;
    int256 internal constant LIQUIDATOR_SHARE_PPM = 500_000;

    /// @notice A decoded liquidation request and its signer, or an auto-deleveraging
    /// (`adl`; `liquidator` is then the counterparty).
    struct Request {
        bool adl;
        address liquidator;
        address target;
        uint32 market;
        uint64 size;
        uint64 nonce;
        uint64 expiryMs;
    }

    /// @notice What the liquidation reads and changes.
    struct State {
        bytes[] keys;
        MarketSet set;
        /// @dev The target's portfolio, then the liquidator's (one entry when they are the
        /// same account).
        PortfolioRisk.Portfolio[] portfolios;
        Account account;
        uint64 nonce;
        uint256 nonceSlot;
        /// @dev Rounding remainders kept back (femto-USDC), what the insurance fund gains
        /// (micro-USDC, after covering a bankrupt target).
        int256 remainder;
        int256 insurance;
        /// @dev The liquidator's maintenance margin before it takes the position.
        int256 takerMaintenance;
        /// @dev An auto-deleveraging: no account leaf; the target's deficit.
        bool adl;
        int256 deficit;
    }

    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    constructor(uint64 chainId, address verifyingContract)
        StepRules(chainId, verifyingContract, IPortalRecords(address(0)), address(0))
    {}

    /// @inheritdoc PortfolioSteps
    function executeKind(bytes32 preRoot, uint64, uint64 timestampMs, bytes calldata transaction, bytes calldata witness)
        internal
        view
        override
        returns (bytes32)
    {
        uint8 kind = uint8(transaction[0]);
        Request memory r;
        if (kind == KIND_LIQUIDATE) {
            if (transaction.length != LIQUIDATE_BYTES) return preRoot;
            r = requestOf(transaction);
            // A signature that does not parse or recover: refused before any leaf is read.
            if (r.liquidator == address(0)) return preRoot;
        } else if (kind == KIND_AUTO_DELEVERAGE) {
            if (transaction.length != AUTO_DELEVERAGE_BYTES) return preRoot;
            r.adl = true;
            r.target = address(bytes20(transaction[1:21]));
            r.market = uint32(bytes4(transaction[21:25]));
            r.liquidator = address(bytes20(transaction[25:45]));
            r.size = uint64(bytes8(transaction[45:53]));
        } else {
            revert UnsupportedKind(kind);
        }
        Leaf[] memory leaves = leavesOf(witness);
        State memory st = stateOf(r, leaves);
        bool taken = r.adl ? deleverage(r, st, leaves) : liquidate(r, st, leaves, timestampMs);
        if (!taken) return unchanged(preRoot, leaves, st.keys);
        return writes(preRoot, st, leaves);
    }

    function requestOf(bytes calldata transaction) internal view returns (Request memory r) {
        r.target = address(bytes20(transaction[1:21]));
        r.market = uint32(bytes4(transaction[21:25]));
        r.size = uint64(bytes8(transaction[25:33]));
        r.nonce = uint64(bytes8(transaction[33:41]));
        r.expiryMs = uint64(bytes8(transaction[41:49]));
        bytes32 structHash = keccak256(abi.encode(LIQUIDATE_TYPEHASH, r.target, r.market, r.size, r.nonce, r.expiryMs));
        r.liquidator = recoverStrict(digest(structHash), transaction[49:114]);
    }

    /// @dev The portfolios, the market set and the keys, from the witness.
    function stateOf(Request memory r, Leaf[] memory leaves) internal pure returns (State memory st) {
        uint256 owners = r.liquidator == r.target ? 1 : 2;
        uint256 accounts = r.adl ? 0 : 1;
        uint256 fixedLeaves = accounts + owners + 2;
        if (leaves.length < fixedLeaves) revert WrongLeafCount(leaves.length, fixedLeaves);
        uint256 readMarkets = leaves.length - fixedLeaves;
        st.portfolios = new PortfolioRisk.Portfolio[](owners);
        for (uint256 j = 0; j < owners; j++) {
            uint256 at = readMarkets + accounts + j;
            bool valid;
            (valid, st.portfolios[j]) = PortfolioRisk.portfolioOf(leaves[at].present, leaves[at].value);
            if (!valid) revert BadLeafValue(at);
        }
        st.set = marketSetOf(st.portfolios, r.market, leaves, readMarkets, leaves.length - 2);
        st.keys = new bytes[](leaves.length);
        marketKeys(st.set, st.keys);
        if (!r.adl) st.keys[readMarkets] = accountKey(r.liquidator);
        st.keys[readMarkets + accounts] = abi.encodePacked(uint8(0x04), r.target);
        if (owners == 2) st.keys[readMarkets + accounts + 1] = abi.encodePacked(uint8(0x04), r.liquidator);
        st.keys[leaves.length - 2] = abi.encodePacked(uint8(0x05), r.market);
        st.keys[leaves.length - 1] = abi.encodePacked(uint8(0x08));
        if (!r.adl) st.account = accountOf(leaves[readMarkets], readMarkets);
        st.adl = r.adl;
    }

    /// @dev A side of the liquidation: its portfolio normalised, the leaves of its
    /// positions' markets and the remainder the normalisation kept back.
    function normalised(State memory st, Leaf[] memory leaves, uint256 index)
        internal
        pure
        returns (bool known, PortfolioRisk.Portfolio memory p, bytes[] memory markets)
    {
        (known, markets) = marketsOf(st.set, leaves, st.portfolios[index]);
        if (!known) return (false, p, markets);
        int256 remainder;
        (p, markets, remainder) = PortfolioRisk.normalise(st.portfolios[index], markets);
        st.remainder += remainder;
    }

    /// @dev `Clearinghouse::liquidate` on the state; false when the STF refuses it.
    function liquidate(Request memory r, State memory st, Leaf[] memory leaves, uint64 timestampMs)
        internal
        pure
        returns (bool)
    {
        if (!admissible(r, st, timestampMs)) return false;
        (bool liable, PortfolioRisk.Portfolio memory victim, int256 held) = target(r, st, leaves);
        if (!liable) return false;
        (bool known, PortfolioRisk.Portfolio memory taker, bytes[] memory markets) = normalised(st, leaves, 1);
        if (!known) return false;
        bool priced;
        (priced,, st.takerMaintenance,) = PortfolioRisk.margin(taker, markets);
        if (!priced) return false;
        int256 moved = held > 0 ? int256(uint256(r.size)) : -int256(uint256(r.size));
        if (!move(st, victim, taker, moved, leaves)) return false;
        int256 takerSize = PortfolioRisk.sizeIn(taker, r.market);
        moveOpenInterest(
            st.set.tradedLeaf, max0(held) + max0(takerSize - moved), max0(held - moved) + max0(takerSize), 0, false
        );
        (st.portfolios[0], st.portfolios[1]) = (victim, taker);
        return true;
    }

    /// @dev The request's own checks: not expired, a nonce the window takes, an active
    /// and priced market, a liquidator who is not the target.
    function admissible(Request memory r, State memory st, uint64 timestampMs) internal pure returns (bool) {
        bool ok;
        st.nonce = r.nonce;
        (ok, st.nonceSlot) = nonceSlot(st.account.nonces, r.nonce);
        if (!ok || timestampMs > r.expiryMs) return false;
        bytes memory m = st.set.tradedLeaf;
        if (m.length == 0 || uint8(m[PortfolioRisk.MARKET_STATUS]) != 0) return false;
        return uint8(m[PortfolioRisk.MARKET_HAS_VECTOR]) == 1 && r.liquidator != r.target;
    }

    /// @dev The target normalised, if it may be liquidated by `r`: below its maintenance
    /// margin, holding at least `r.size` (a positive multiple of the lot) in the market.
    function target(Request memory r, State memory st, Leaf[] memory leaves)
        internal
        pure
        returns (bool liable, PortfolioRisk.Portfolio memory victim, int256 held)
    {
        (bool known, PortfolioRisk.Portfolio memory p, bytes[] memory markets) = normalised(st, leaves, 0);
        if (!known) return (false, p, 0);
        (bool priced, int256 equity, int256 maintenance,) = PortfolioRisk.margin(p, markets);
        if (!priced || equity >= maintenance) return (false, p, 0);
        held = PortfolioRisk.sizeIn(p, r.market);
        uint256 lot = PortfolioRisk.readUint(st.set.tradedLeaf, 33, 8);
        liable = r.size != 0 && lot != 0 && r.size % lot == 0 && int256(uint256(r.size)) <= abs(held);
        return (liable, p, held);
    }

    /// @dev Moves `moved` (signed from the target's side) at the mark, charges the
    /// penalty, checks the liquidator's margin and covers a bankrupt target from the
    /// insurance fund as far as it goes.
    function move(
        State memory st,
        PortfolioRisk.Portfolio memory victim,
        PortfolioRisk.Portfolio memory taker,
        int256 moved,
        Leaf[] memory leaves
    ) internal pure returns (bool) {
        (int256 value, int256 spread) = exchange(st, victim, taker, moved);
        if (taker.positions.length > PortfolioRisk.POSITIONS_MAX) return false;
        (bool priced, int256 kept) = penalise(st, victim, taker, value, leaves);
        if (!priced || !marginKept(st, taker, leaves)) return false;
        st.insurance = kept + spread;
        if (victim.positions.length == 0 && victim.cash < 0) {
            (bytes memory totals,) = clearingTotals(leaves[leaves.length - 1], leaves.length - 1);
            int256 fund = PortfolioRisk.signed(totals, 16, 16) + st.insurance;
            int256 deficit = -victim.cash;
            int256 covered = deficit < max0(fund) ? deficit : max0(fund);
            st.insurance -= covered;
            victim.cash += covered;
        }
        return true;
    }

    /// @dev The position changes hands at the mark: the target receives its value (femto
    /// `value`) rounded down, the liquidator pays it rounded up (`spread` the difference).
    function exchange(
        State memory st,
        PortfolioRisk.Portfolio memory victim,
        PortfolioRisk.Portfolio memory taker,
        int256 moved
    ) internal pure returns (int256 value, int256 spread) {
        bytes memory m = st.set.tradedLeaf;
        int256 fundingIndex = PortfolioRisk.signed(m, PortfolioRisk.MARKET_FUNDING_INDEX, 16);
        value = moved * PortfolioRisk.signed(m, PortfolioRisk.VECTOR_MARK, 8);
        int256 receives = PortfolioRisk.floorDiv(value, PortfolioRisk.FEMTO_PER_MICRO);
        int256 pays = PortfolioRisk.ceilDiv(value, PortfolioRisk.FEMTO_PER_MICRO);
        PortfolioRisk.trade(victim, st.set.traded, -moved, -receives, fundingIndex);
        victim.cash += receives;
        PortfolioRisk.trade(taker, st.set.traded, moved, pays, fundingIndex);
        taker.cash -= pays;
        spread = pays - receives;
    }

    /// @dev The penalty: 1.5 % of the notional, never beyond the target's remaining
    /// equity; half to the liquidator. Returns what the insurance fund keeps of it.
    function penalise(
        State memory st,
        PortfolioRisk.Portfolio memory victim,
        PortfolioRisk.Portfolio memory taker,
        int256 value,
        Leaf[] memory leaves
    ) internal pure returns (bool priced, int256 kept) {
        (bool known, bytes[] memory markets) = marketsOf(st.set, leaves, victim);
        if (!known) return (false, 0);
        int256 equity;
        (priced, equity,,) = PortfolioRisk.margin(victim, markets);
        if (!priced) return (false, 0);
        int256 nominal = PortfolioRisk.ceilDiv(abs(value) * PENALTY_PPM, 1_000_000 * PortfolioRisk.FEMTO_PER_MICRO);
        int256 penalty = nominal < max0(equity) ? nominal : max0(equity);
        int256 reward = penalty * LIQUIDATOR_SHARE_PPM / 1_000_000;
        victim.cash -= penalty;
        taker.cash += reward;
        return (true, penalty - reward);
    }

    /// @dev The liquidator's margin rule: if its maintenance rose, its equity covers its
    /// initial margin.
    function marginKept(State memory st, PortfolioRisk.Portfolio memory taker, Leaf[] memory leaves)
        internal
        pure
        returns (bool)
    {
        (bool known, bytes[] memory markets) = marketsOf(st.set, leaves, taker);
        if (!known) return false;
        (bool priced, int256 equity, int256 maintenance, int256 initial) = PortfolioRisk.margin(taker, markets);
        return priced && (maintenance <= st.takerMaintenance || equity >= initial);
    }

    /// @dev `Clearinghouse::auto_deleverage` on the state; false when the STF refuses it.
    function deleverage(Request memory r, State memory st, Leaf[] memory leaves) internal pure returns (bool) {
        bytes memory m = st.set.tradedLeaf;
        if (m.length == 0 || uint8(m[PortfolioRisk.MARKET_STATUS]) != 0) return false;
        if (uint8(m[PortfolioRisk.MARKET_HAS_VECTOR]) != 1 || r.liquidator == r.target) return false;
        (bool ok, PortfolioRisk.Portfolio memory victim) = bankrupt(st, leaves);
        if (!ok) return false;
        int256 held = PortfolioRisk.sizeIn(victim, r.market);
        (bool known, PortfolioRisk.Portfolio memory winner,) = normalised(st, leaves, 1);
        if (!known || !opposed(r, held, PortfolioRisk.sizeIn(winner, r.market), m)) return false;
        (, st.insurance) = exchange(st, victim, winner, held > 0 ? int256(uint256(r.size)) : -int256(uint256(r.size)));
        if (!absorb(st, victim, winner, st.deficit * int256(uint256(r.size)), abs(held), leaves)) return false;
        uint256 interest = PortfolioRisk.readUint(m, 58, 8);
        // Both positions shrink: open interest falls by the size (not below zero).
        moveOpenInterest(m, int256(interest < r.size ? interest : uint256(r.size)), 0, 0, false);
        (st.portfolios[0], st.portfolios[1]) = (victim, winner);
        return true;
    }

    /// @dev The target normalised, if it is bankrupt (negative equity) with more deficit
    /// than the insurance fund holds; its deficit goes to `st.deficit`.
    function bankrupt(State memory st, Leaf[] memory leaves)
        internal
        pure
        returns (bool ok, PortfolioRisk.Portfolio memory victim)
    {
        bytes[] memory markets;
        (ok, victim, markets) = normalised(st, leaves, 0);
        if (!ok) return (false, victim);
        (bool priced, int256 equity,,) = PortfolioRisk.margin(victim, markets);
        (bytes memory totals,) = clearingTotals(leaves[leaves.length - 1], leaves.length - 1);
        st.deficit = -equity;
        ok = priced && equity < 0 && PortfolioRisk.signed(totals, 16, 16) < st.deficit;
    }

    /// @dev The size is a positive multiple of the lot within both positions, which are
    /// on opposite sides.
    function opposed(Request memory r, int256 held, int256 opposite, bytes memory m) internal pure returns (bool) {
        uint256 lot = PortfolioRisk.readUint(m, 33, 8);
        int256 size = int256(uint256(r.size));
        return r.size > 0 && lot != 0 && r.size % lot == 0 && size <= abs(held) && size <= abs(opposite)
            && (held > 0) != (opposite > 0) && opposite != 0;
    }

    /// @dev The counterparty pays the target ceil(deficit · size / |held|)
    /// (`shareNumerator` / `held`), capped at the deficit and at its own remaining equity;
    /// the target must still be priced after.
    function absorb(
        State memory st,
        PortfolioRisk.Portfolio memory victim,
        PortfolioRisk.Portfolio memory winner,
        int256 shareNumerator,
        int256 held,
        Leaf[] memory leaves
    ) internal pure returns (bool) {
        (bool known, bytes[] memory markets) = marketsOf(st.set, leaves, winner);
        if (!known) return false;
        (bool priced, int256 winnerEquity,,) = PortfolioRisk.margin(winner, markets);
        if (!priced) return false;
        int256 absorbed = PortfolioRisk.ceilDiv(shareNumerator, held);
        int256 cap = st.deficit < max0(winnerEquity) ? st.deficit : max0(winnerEquity);
        if (absorbed > cap) absorbed = cap;
        winner.cash -= absorbed;
        victim.cash += absorbed;
        (known, markets) = marketsOf(st.set, leaves, victim);
        if (!known) return false;
        (priced,,,) = PortfolioRisk.margin(victim, markets);
        return priced;
    }

    function abs(int256 value) internal pure returns (int256) {
        return value < 0 ? -value : value;
    }

    /// @dev The read markets checked, then the account (its nonce), the portfolios
    /// (removed when left empty), the market and the clearing totals written.
    function writes(bytes32 preRoot, State memory st, Leaf[] memory leaves) internal pure returns (bytes32 root) {
        checkMarketsUnchanged(preRoot, st.set, st.keys, leaves);
        uint256 at = st.set.count;
        root = preRoot;
        if (!st.adl) {
            st.account.nonces = insertNonce(st.account.nonces, st.nonceSlot, st.nonce);
            root = write(root, st.keys[at], leaves[at], at, encodeAccount(st.account));
            at++;
        }
        for (uint256 j = 0; j < st.portfolios.length; j++) {
            root = writePortfolio(root, st.keys[at], leaves[at], at, st.portfolios[j]);
            at++;
        }
        root = write(root, st.keys[at], leaves[at], at, st.set.tradedLeaf);
        at++;
        (bytes memory totals,) = clearingTotals(leaves[at], at);
        root =
            write(root, st.keys[at], leaves[at], at, PortfolioRisk.settleTotals(totals, 0, st.insurance, st.remainder));
    }
}
