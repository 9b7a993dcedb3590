// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IPortalRecords} from "./PortalRecords.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";
import {PortfolioSteps} from "./PortfolioSteps.sol";
import {StepRules} from "./StepRules.sol";

/// @title MatchStepProver
/// @notice The one-step prover's matches: a signed taker against signed makers (0x11) or
/// against placed makers named with their owners (0x17); `StepProver` forwards them here.
/// Any other kind reverts `UnsupportedKind`.
/// @dev The Rust STF's `execute_match` and `Clearinghouse::settle_fill`, all fills or
/// none: refused unless there is at least one maker, the taker may take (not post-only,
/// a known time in force, fill-or-kill filled whole), every order is live at block time
/// (not expired, not cancelled, not overfilled by this match), every maker is on the
/// taker's market and other side, not the taker's owner, may rest, crosses the taker's
/// limit and, for 0x17, was placed; and the match weighs at most MATCH_WEIGHT_MAX. Each
/// fill in order then trades at the maker's price:
/// reduce-only orders must reduce, the market must be active with a risk vector and the
/// size and price on its grid; both portfolios are normalised, pay or receive the
/// notional (the buyer pays it rounded up, the seller receives it rounded down, the
/// difference to the insurance fund) and their fee (ceil(notional · ppm)), and each must
/// still hold at most 32 positions and, if its maintenance margin rose, cover its
/// initial margin. The market's open interest and last price follow; the clearing totals
/// get the fees and the rounding; the order records their filled sizes.
/// Leaves: the markets of the involved portfolios' positions other than the match's
/// market (read only, first seen over the taker's then each maker owner's portfolio;
/// none when the match is over the weight bound),
/// the order records (the taker's, then each maker's once), the portfolios (the taker's,
/// then each maker owner's once), the match's market, the clearing totals.
contract MatchStepProver is PortfolioSteps {
    /// @notice Most makers one match fills (crates/primitives MAKERS_PER_MATCH_MAX).
    uint256 internal constant MAKERS_MAX = 16;
    /// @notice The most a match may touch (crates/exchange MATCH_WEIGHT_MAX): positions
    /// held + 2 · distinct markets (the match's included) + 12 · distinct portfolios.
    /// What keeps one match's proof under the gas target.
    uint256 internal constant MATCH_WEIGHT_MAX = 220;
    /// @notice An order body (47) and its signature (65).
    uint256 internal constant SIGNED_ORDER_BYTES = 112;
    /// @notice A placed maker: body (47), owner (20), fill size (8).
    uint256 internal constant PLACED_MAKER_BYTES = 75;
    /// @notice A signed maker: body and signature (112), fill size (8).
    uint256 internal constant SIGNED_MAKER_BYTES = 120;
    int256 internal constant PICO_PER_MICRO = 1_000_000;
    uint8 internal constant TIF_IMMEDIATE = 1;
    uint8 internal constant TIF_FILL_OR_KILL = 2;
    uint8 internal constant TIF_POST_ONLY = 3;

    /// @notice One order of the match, decoded, with its signer (or named owner) and hash.
    struct OrderRef {
        uint32 market;
        bool isBuy;
        uint64 price;
        uint64 size;
        uint8 tif;
        bool reduceOnly;
        uint64 expiryMs;
        address owner;
        bytes32 hash;
        /// @dev The index of its record among the match's records.
        uint256 record;
        /// @dev The index of its owner's portfolio among the match's portfolios.
        uint256 portfolio;
    }

    /// @notice A decoded match.
    struct Fills {
        bool placed;
        OrderRef taker;
        OrderRef[] makers;
        uint64[] sizes;
    }

    /// @notice What the match reads (decoded from the witness) and changes, fill by fill.
    struct State {
        bytes[] keys;
        /// @dev Over MATCH_WEIGHT_MAX: refused, and no market is read.
        bool tooHeavy;
        /// @dev The markets read (at the front of the witness) and the match's market.
        MarketSet set;
        /// @dev Distinct order records (leaves `markets ..`): owner, hash, filled,
        /// cancelled, placed.
        address[] recordOwners;
        bytes32[] recordHashes;
        uint64[] filled;
        bool[] cancelled;
        bool[] placedRecord;
        /// @dev Distinct portfolios (leaves after the records).
        address[] owners;
        PortfolioRisk.Portfolio[] portfolios;
        /// @dev Per portfolio, once it has traded in this match: it is normalised (a
        /// second normalisation changes nothing: every snapshot is at its market's index
        /// and no market settles within a match) and its risk sums after its last fill
        /// are the next fill's "before". A fill changes one position, so the sums move
        /// by that market's terms only (`PortfolioRisk.shift`) instead of being summed
        /// again over every position: the margin of a match costs one pass over each
        /// portfolio, not two per fill.
        bool[] traded;
        PortfolioRisk.Risk[] risks;
        /// @dev Sums over the fills: rounding remainders (femto-USDC), fees, and what the
        /// buyers paid beyond what the sellers received (micro-USDC).
        int256 remainder;
        int256 fees;
        int256 spread;
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
        if (kind != KIND_MATCH && kind != KIND_MATCH_PLACED) revert UnsupportedKind(kind);
        (bool decodes, Fills memory f) = fillsOf(transaction);
        // Bytes that do not decode, or a signature that does not recover: refused before
        // any leaf is read.
        if (!decodes) return preRoot;
        Leaf[] memory leaves = leavesOf(witness);
        State memory st = stateOf(f, leaves);
        if (!fill(f, st, leaves, timestampMs)) return unchanged(preRoot, leaves, st.keys);
        return writes(preRoot, st, leaves);
    }

    /// @dev Runs the match on `st`: false when the STF refuses it.
    function fill(Fills memory f, State memory st, Leaf[] memory leaves, uint64 timestampMs)
        internal
        pure
        returns (bool)
    {
        (bool admitted, uint64 takerFilledBefore) = admissible(f, st, timestampMs);
        if (!admitted || st.tooHeavy) return false;
        for (uint256 i = 0; i < f.makers.length; i++) {
            if (!settle(f, i, st, leaves)) return false;
        }
        uint64 total;
        for (uint256 i = 0; i < f.makers.length; i++) {
            st.filled[f.makers[i].record] += f.sizes[i];
            total += f.sizes[i];
        }
        st.filled[f.taker.record] = takerFilledBefore + total;
        return true;
    }

    // ---------------------------------------------------------------- decoding

    /// @dev kind ‖ taker body ‖ signature ‖ count u8 (≤ 16) ‖ (body ‖ signature ‖ size
    /// u64) × count for 0x11, (body ‖ owner ‖ size u64) × count for 0x17. Does not decode
    /// when the length or a boolean is off, or when a signature does not recover.
    function fillsOf(bytes calldata transaction) internal view returns (bool decodes, Fills memory f) {
        if (transaction.length < 2 + SIGNED_ORDER_BYTES) return (false, f);
        f.placed = uint8(transaction[0]) == KIND_MATCH_PLACED;
        uint256 count = uint8(transaction[1 + SIGNED_ORDER_BYTES]);
        uint256 per = f.placed ? PLACED_MAKER_BYTES : SIGNED_MAKER_BYTES;
        if (count > MAKERS_MAX || transaction.length != 2 + SIGNED_ORDER_BYTES + per * count) return (false, f);
        bool ok;
        (ok, f.taker) = orderOf(transaction[1:48]);
        if (!ok) return (false, f);
        f.taker.owner = recoverStrict(f.taker.hash, transaction[48:113]);
        if (f.taker.owner == address(0)) return (false, f);
        f.makers = new OrderRef[](count);
        f.sizes = new uint64[](count);
        for (uint256 i = 0; i < count; i++) {
            uint256 at = 2 + SIGNED_ORDER_BYTES + per * i;
            (ok, f.makers[i]) = orderOf(transaction[at:at + ORDER_BODY_BYTES]);
            if (!ok) return (false, f);
            if (f.placed) {
                f.makers[i].owner = address(bytes20(transaction[at + 47:at + 67]));
            } else {
                f.makers[i].owner = recoverStrict(f.makers[i].hash, transaction[at + 47:at + 112]);
                if (f.makers[i].owner == address(0)) return (false, f);
            }
            f.sizes[i] = uint64(bytes8(transaction[at + per - 8:at + per]));
        }
        return (true, f);
    }

    /// @dev An order body: `market u32 ‖ isBuy u8 ‖ limitPrice u64 ‖ size u64 ‖
    /// timeInForce u8 ‖ reduceOnly u8 ‖ expiryMs u64 ‖ clientOrderId u64 ‖ nonce u64`.
    function orderOf(bytes calldata body) internal view returns (bool decodes, OrderRef memory o) {
        if (uint8(body[4]) > 1 || uint8(body[22]) > 1) return (false, o);
        o.market = uint32(bytes4(body[0:4]));
        o.isBuy = uint8(body[4]) == 1;
        o.price = uint64(bytes8(body[5:13]));
        o.size = uint64(bytes8(body[13:21]));
        o.tif = uint8(body[21]);
        o.reduceOnly = uint8(body[22]) == 1;
        o.expiryMs = uint64(bytes8(body[23:31]));
        o.hash = digest(orderStructHash(body));
        return (true, o);
    }

    // ---------------------------------------------------------------- the witness

    /// @dev The records and portfolios the match names (each once), the market leaves
    /// the portfolios' positions need, the keys of every leaf, and their values.
    function stateOf(Fills memory f, Leaf[] memory leaves) internal pure returns (State memory st) {
        st.recordOwners = new address[](f.makers.length + 1);
        st.recordHashes = new bytes32[](f.makers.length + 1);
        st.owners = new address[](f.makers.length + 1);
        (uint256 records, uint256 owners) = (1, 1);
        (st.recordOwners[0], st.recordHashes[0], st.owners[0]) = (f.taker.owner, f.taker.hash, f.taker.owner);
        for (uint256 i = 0; i < f.makers.length; i++) {
            OrderRef memory maker = f.makers[i];
            (maker.record, records) = indexOf(st.recordOwners, st.recordHashes, records, maker.owner, maker.hash);
            (maker.portfolio, owners) = ownerIndex(st.owners, owners, maker.owner);
        }
        shrink(st.recordOwners, records);
        shrink(st.owners, owners);
        uint256 fixedLeaves = records + owners + 2;
        if (leaves.length < fixedLeaves) revert WrongLeafCount(leaves.length, fixedLeaves);
        uint256 readMarkets = leaves.length - fixedLeaves;
        readPortfolios(st, leaves, readMarkets + records);
        st.set = marketIdsOf(st.portfolios, f.taker.market);
        // A match over the weight bound is refused before any market is read: its
        // witness holds none.
        st.tooHeavy = weightOf(st, st.set.count) > MATCH_WEIGHT_MAX;
        if (st.tooHeavy) st.set.count = 0;
        readMarketLeaves(st.set, leaves, readMarkets, leaves.length - 2);
        readRecords(st, leaves);
        st.keys = keysOf(st, f.taker.market);
    }

    /// @dev The index of `(owner, hash)` among the first `count` entries, appended if new.
    function indexOf(address[] memory owners, bytes32[] memory hashes, uint256 count, address owner, bytes32 hash)
        internal
        pure
        returns (uint256 index, uint256 newCount)
    {
        for (index = 0; index < count; index++) {
            if (owners[index] == owner && hashes[index] == hash) return (index, count);
        }
        (owners[count], hashes[count]) = (owner, hash);
        return (count, count + 1);
    }

    /// @dev The index of `owner` among the first `count` entries, appended if new.
    function ownerIndex(address[] memory owners, uint256 count, address owner)
        internal
        pure
        returns (uint256 index, uint256 newCount)
    {
        for (index = 0; index < count; index++) {
            if (owners[index] == owner) return (index, count);
        }
        owners[count] = owner;
        return (count, count + 1);
    }

    function shrink(address[] memory array, uint256 length) internal pure {
        assembly ("memory-safe") {
            mstore(array, length)
        }
    }

    function readPortfolios(State memory st, Leaf[] memory leaves, uint256 first) internal pure {
        st.portfolios = new PortfolioRisk.Portfolio[](st.owners.length);
        st.traded = new bool[](st.owners.length);
        st.risks = new PortfolioRisk.Risk[](st.owners.length);
        for (uint256 j = 0; j < st.owners.length; j++) {
            bool valid;
            (valid, st.portfolios[j]) = PortfolioRisk.portfolioOf(leaves[first + j].present, leaves[first + j].value);
            if (!valid) revert BadLeafValue(first + j);
        }
    }

    /// @dev Order records: `filled u64 ‖ cancelled u8 ‖ placed u8 ‖ [seq u64 ‖ body]`.
    function readRecords(State memory st, Leaf[] memory leaves) internal pure {
        uint256 count = st.recordOwners.length;
        st.filled = new uint64[](count);
        st.cancelled = new bool[](count);
        st.placedRecord = new bool[](count);
        for (uint256 r = 0; r < count; r++) {
            Leaf memory leaf = leaves[st.set.count + r];
            if (!leaf.present) continue;
            bytes memory value = leaf.value;
            if (value.length < 10) revert BadLeafValue(st.set.count + r);
            st.filled[r] = uint64(PortfolioRisk.readUint(value, 0, 8));
            st.cancelled[r] = uint8(value[8]) != 0;
            st.placedRecord[r] = uint8(value[9]) != 0;
        }
    }

    function keysOf(State memory st, uint32 matchMarket) internal pure returns (bytes[] memory keys) {
        uint256 records = st.recordOwners.length;
        uint256 markets = st.set.count;
        keys = new bytes[](markets + records + st.owners.length + 2);
        marketKeys(st.set, keys);
        for (uint256 r = 0; r < records; r++) {
            keys[markets + r] = orderKey(st.recordOwners[r], st.recordHashes[r]);
        }
        for (uint256 j = 0; j < st.owners.length; j++) {
            keys[markets + records + j] = abi.encodePacked(uint8(0x04), st.owners[j]);
        }
        keys[keys.length - 2] = abi.encodePacked(uint8(0x05), matchMarket);
        keys[keys.length - 1] = abi.encodePacked(uint8(0x08));
    }

    // ---------------------------------------------------------------- the order checks

    /// @dev `execute_match`'s checks before any fill; returns the taker's filled size.
    function admissible(Fills memory f, State memory st, uint64 timestampMs)
        internal
        pure
        returns (bool, uint64 takerFilledBefore)
    {
        OrderRef memory taker = f.taker;
        if (f.makers.length == 0 || taker.tif > TIF_POST_ONLY || taker.tif == TIF_POST_ONLY) return (false, 0);
        uint64 total;
        for (uint256 i = 0; i < f.sizes.length; i++) {
            total = saturatingAdd(total, f.sizes[i]);
        }
        if (!live(st, taker, total, timestampMs)) return (false, 0);
        if (taker.tif == TIF_FILL_OR_KILL && total != taker.size) return (false, 0);
        uint64[] memory soFar = new uint64[](st.recordOwners.length);
        for (uint256 i = 0; i < f.makers.length; i++) {
            OrderRef memory maker = f.makers[i];
            if (
                f.sizes[i] == 0 || maker.market != taker.market || maker.isBuy == taker.isBuy
                    || maker.owner == taker.owner
            ) return (false, 0);
            if (f.placed && !st.placedRecord[maker.record]) return (false, 0);
            if (maker.tif > TIF_POST_ONLY || maker.tif == TIF_IMMEDIATE || maker.tif == TIF_FILL_OR_KILL) {
                return (false, 0);
            }
            bool crosses = taker.isBuy ? maker.price <= taker.price : maker.price >= taker.price;
            soFar[maker.record] = saturatingAdd(soFar[maker.record], f.sizes[i]);
            if (!crosses || !live(st, maker, soFar[maker.record], timestampMs)) return (false, 0);
        }
        return (true, st.filled[taker.record]);
    }

    /// @dev Not expired, not cancelled, and `requested` within what is left of it.
    function live(State memory st, OrderRef memory order, uint64 requested, uint64 timestampMs)
        internal
        pure
        returns (bool)
    {
        if (timestampMs > order.expiryMs || st.cancelled[order.record]) return false;
        uint64 filled = st.filled[order.record];
        uint64 remaining = order.size > filled ? order.size - filled : 0;
        return requested <= remaining;
    }

    function saturatingAdd(uint64 a, uint64 b) internal pure returns (uint64) {
        uint256 sum = uint256(a) + b;
        // Checked against type(uint64).max.
        // forge-lint: disable-next-line(unsafe-typecast)
        return sum > type(uint64).max ? type(uint64).max : uint64(sum);
    }

    /// @dev `MatchWeight`: positions of the match's portfolios as stored, plus 2 per
    /// distinct market (the match's and `readMarkets` others), plus 12 per portfolio.
    function weightOf(State memory st, uint256 readMarkets) internal pure returns (uint256 weight) {
        for (uint256 j = 0; j < st.portfolios.length; j++) {
            weight += st.portfolios[j].positions.length;
        }
        weight += 2 * (readMarkets + 1) + 12 * st.portfolios.length;
    }

    // ---------------------------------------------------------------- one fill

    /// @dev One side of a fill: its portfolio normalised, the remainder kept back, its
    /// risk sums and maintenance margin before the trade.
    struct Side {
        uint256 index;
        PortfolioRisk.Portfolio portfolio;
        int256 remainder;
        PortfolioRisk.Risk risk;
        int256 maintenanceBefore;
        int256 sizeBefore;
    }

    /// @dev What one fill moves, micro-USDC: the buyer pays the notional rounded up plus
    /// its fee, the seller receives it rounded down less its fee.
    struct Trade {
        int256 size;
        int256 paid;
        int256 received;
        int256 buyerFee;
        int256 sellerFee;
    }

    /// @dev `settle_one` and `settle_fill` for fill `i`; false when the STF refuses it.
    function settle(Fills memory f, uint256 i, State memory st, Leaf[] memory leaves) internal pure returns (bool) {
        OrderRef memory maker = f.makers[i];
        if (!reduces(st, f.taker, f.sizes[i]) || !reduces(st, maker, f.sizes[i])) return false;
        bytes memory m = st.set.tradedLeaf;
        // Active (status 0), priced, the size and the maker's price on the grid.
        if (m.length == 0 || uint8(m[PortfolioRisk.MARKET_STATUS]) != 0) return false;
        if (uint8(m[PortfolioRisk.MARKET_HAS_VECTOR]) != 1) return false;
        if (int256(uint256(f.sizes[i])) > PortfolioRisk.POSITION_SIZE_MAX || !onGrid(m, maker.price, f.sizes[i])) {
            return false;
        }
        Trade memory t = tradeOf(m, maker.price, f.sizes[i], f.taker.isBuy);
        (bool ok, Side memory buyer) = side(st, leaves, f.taker.isBuy ? f.taker.portfolio : maker.portfolio);
        if (!ok) return false;
        Side memory seller;
        (ok, seller) = side(st, leaves, f.taker.isBuy ? maker.portfolio : f.taker.portfolio);
        if (!ok) return false;
        int256 fundingIndex = PortfolioRisk.signed(m, PortfolioRisk.MARKET_FUNDING_INDEX, 16);
        PortfolioRisk.trade(buyer.portfolio, st.set.traded, t.size, t.paid, fundingIndex);
        PortfolioRisk.trade(seller.portfolio, st.set.traded, -t.size, -t.received, fundingIndex);
        buyer.portfolio.cash -= t.paid + t.buyerFee;
        seller.portfolio.cash += t.received - t.sellerFee;
        if (!marginKept(st, buyer, buyer.sizeBefore + t.size) || !marginKept(st, seller, seller.sizeBefore - t.size)) {
            return false;
        }
        (st.traded[buyer.index], st.traded[seller.index]) = (true, true);
        openInterest(m, buyer.sizeBefore, seller.sizeBefore, t.size, maker.price);
        st.remainder += buyer.remainder + seller.remainder;
        st.fees += t.buyerFee + t.sellerFee;
        st.spread += t.paid - t.received;
        st.portfolios[buyer.index] = buyer.portfolio;
        st.portfolios[seller.index] = seller.portfolio;
        return true;
    }

    /// @dev The fill's money at `price` (the maker's): notional in pico-USDC, fees
    /// ceil(notional · ppm) (maker fee ppm at byte 41 of the market leaf, taker's at 45).
    function tradeOf(bytes memory m, uint64 price, uint64 size, bool takerBuys) internal pure returns (Trade memory t) {
        t.size = int256(uint256(size));
        int256 notional = t.size * int256(uint256(price));
        t.paid = PortfolioRisk.ceilDiv(notional, PICO_PER_MICRO);
        t.received = PortfolioRisk.floorDiv(notional, PICO_PER_MICRO);
        int256 takerFee =
            PortfolioRisk.ceilDiv(notional * int256(PortfolioRisk.readUint(m, 45, 4)), PICO_PER_MICRO * 1_000_000);
        int256 makerFee =
            PortfolioRisk.ceilDiv(notional * int256(PortfolioRisk.readUint(m, 41, 4)), PICO_PER_MICRO * 1_000_000);
        (t.buyerFee, t.sellerFee) = takerBuys ? (takerFee, makerFee) : (makerFee, takerFee);
    }

    /// @dev A reduce-only order must shrink its owner's position without flipping it.
    function reduces(State memory st, OrderRef memory order, uint64 size) internal pure returns (bool) {
        if (!order.reduceOnly) return true;
        int256 position = PortfolioRisk.sizeIn(st.portfolios[order.portfolio], order.market);
        int256 amount = int256(uint256(size));
        return order.isBuy ? position < 0 && amount <= -position : position > 0 && amount <= position;
    }

    function onGrid(bytes memory m, uint64 price, uint64 size) internal pure returns (bool) {
        uint256 tick = PortfolioRisk.readUint(m, 25, 8);
        uint256 lot = PortfolioRisk.readUint(m, 33, 8);
        return size != 0 && lot != 0 && size % lot == 0 && price != 0 && tick != 0 && price % tick == 0;
    }

    /// @dev Portfolio `index` normalised, with its risk before the trade; not ok when a
    /// position's market is unknown or cannot be priced.
    function side(State memory st, Leaf[] memory leaves, uint256 index) internal pure returns (bool ok, Side memory s) {
        s.index = index;
        if (st.traded[index]) {
            (s.portfolio, s.risk) = (st.portfolios[index], st.risks[index]);
        } else {
            bytes[] memory markets;
            (ok, markets) = marketsOf(st.set, leaves, st.portfolios[index]);
            if (!ok) return (false, s);
            (s.portfolio, markets, s.remainder) = PortfolioRisk.normalise(st.portfolios[index], markets);
            (ok, s.risk) = PortfolioRisk.riskOf(s.portfolio, markets);
            if (!ok) return (false, s);
        }
        (, s.maintenanceBefore,) = PortfolioRisk.requirements(s.risk, 0);
        s.sizeBefore = PortfolioRisk.sizeIn(s.portfolio, st.set.traded);
        return (true, s);
    }

    /// @dev `check_trade_margin` after the trade moved the position in the match's
    /// market to `sizeAfter`: at most 32 positions and, if the maintenance rose, the
    /// equity covers the initial margin.
    function marginKept(State memory st, Side memory s, int256 sizeAfter) internal pure returns (bool) {
        if (s.portfolio.positions.length > PortfolioRisk.POSITIONS_MAX) return false;
        if (!PortfolioRisk.shift(s.risk, st.set.tradedLeaf, s.sizeBefore, sizeAfter)) return false;
        (int256 equity, int256 maintenance, int256 initial) = PortfolioRisk.requirements(s.risk, s.portfolio.cash);
        st.risks[s.index] = s.risk;
        return maintenance <= s.maintenanceBefore || equity >= initial;
    }

    /// @dev Open interest (the total long size) follows the two accounts; the last price
    /// becomes the fill's.
    function openInterest(bytes memory m, int256 buyerBefore, int256 sellerBefore, int256 delta, uint64 price)
        internal
        pure
    {
        int256 longBefore = max0(buyerBefore) + max0(sellerBefore);
        int256 longAfter = max0(buyerBefore + delta) + max0(sellerBefore - delta);
        moveOpenInterest(m, longBefore, longAfter, price, true);
    }

    // ---------------------------------------------------------------- the writes

    /// @dev The markets read are checked against the root before the writes; then the
    /// records, the portfolios (removed when left empty), the market and the totals are
    /// written in the witness's order.
    function writes(bytes32 preRoot, State memory st, Leaf[] memory leaves) internal pure returns (bytes32 root) {
        checkMarketsUnchanged(preRoot, st.set, st.keys, leaves);
        root = preRoot;
        uint256 at = st.set.count;
        for (uint256 r = 0; r < st.recordOwners.length; r++) {
            Leaf memory leaf = leaves[at];
            bytes memory tail = leaf.present ? slice(leaf.value, 8) : bytes(hex"0000");
            root = write(root, st.keys[at], leaf, at, bytes.concat(bytes8(st.filled[r]), tail));
            at++;
        }
        for (uint256 j = 0; j < st.owners.length; j++) {
            root = writePortfolio(root, st.keys[at], leaves[at], at, st.portfolios[j]);
            at++;
        }
        root = write(root, st.keys[at], leaves[at], at, st.set.tradedLeaf);
        at++;
        (bytes memory totals,) = clearingTotals(leaves[at], at);
        root = write(
            root, st.keys[at], leaves[at], at, PortfolioRisk.settleTotals(totals, st.fees, st.spread, st.remainder)
        );
    }

    /// @dev The bytes of `data` from `from` on.
    function slice(bytes memory data, uint256 from) internal pure returns (bytes memory out) {
        out = new bytes(data.length - from);
        for (uint256 i = 0; i < out.length; i++) {
            out[i] = data[from + i];
        }
    }
}
