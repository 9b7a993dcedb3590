// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title PortfolioRisk
/// @notice A margin account's arithmetic exactly as the Rust STF does it, over the stored
/// leaves (crates/exchange: `Clearinghouse::normalized`, `risk_of_normalized`,
/// `keep_remainder` and `risk::margin::margin`; docs/spec/clearinghouse.md §5, §7):
/// normalisation settles what a portfolio owes into its cash (perpetual funding since each
/// position's snapshot, payouts of settled markets, whose positions close), and the margin
/// is a linear combination of the markets' risk vectors (nothing is priced here). Amounts
/// are femto-USDC (10^-15) until rounded to micro-USDC, always against the account.
/// @dev Leaves: a portfolio is `cash i128 ‖ count u8 ‖ (market u32 ‖ size i64 ‖
/// fundingSnapshot i128 ‖ cost i128) × count` (markets ascending, sizes non-zero, at most
/// 32); a market is `id u32 ‖ underlying u32 ‖ kind u8 ‖ strike u64 ‖ expiry u64 ‖ tick
/// u64 ‖ lot u64 ‖ makerFeePpm u32 ‖ takerFeePpm u32 ‖ status u8 ‖ settlementValue u64 ‖
/// openInterest u64 ‖ fundingIndex i128 ‖ lastPrice u64 ‖ hasVector u8 ‖ [mark, delta,
/// gamma, vega, theta, sigmaPpm, shortCharge i64 ‖ scenarioPnl i64 × 29]`.
library PortfolioRisk {
    /// @notice One position (`Position` of crates/exchange).
    struct Position {
        uint32 market;
        int64 size;
        int128 fundingSnapshot;
        int128 cost;
    }

    /// @notice A margin account: signed cash (micro-USDC) and its positions.
    struct Portfolio {
        int256 cash;
        Position[] positions;
    }

    /// @notice Scenarios of the risk grid (crates/exchange SCENARIO_COUNT).
    uint256 internal constant SCENARIO_COUNT = 29;
    /// @notice Positions one account may hold (POSITIONS_PER_ACCOUNT_MAX).
    uint256 internal constant POSITIONS_MAX = 32;
    /// @notice Largest absolute position, micro-contracts (POSITION_SIZE_MAX).
    int256 internal constant POSITION_SIZE_MAX = 10_000_000_000_000;
    /// @notice Initial margin over maintenance, ppm (RiskParams::default's factor, which
    /// the clearinghouse uses for every account).
    int256 internal constant INITIAL_FACTOR_PPM = 1_250_000;
    int256 internal constant FEMTO_PER_MICRO = 1_000_000_000;
    uint256 internal constant PORTFOLIO_HEADER_BYTES = 17;
    uint256 internal constant POSITION_BYTES = 44;
    /// @notice A market leaf without a vector; with one it carries 36 more i64.
    uint256 internal constant MARKET_BYTES = 91;
    uint256 internal constant VECTOR_BYTES = 288;
    uint256 internal constant MARKET_STATUS = 49;
    uint256 internal constant MARKET_SETTLEMENT_VALUE = 50;
    uint256 internal constant MARKET_FUNDING_INDEX = 66;
    uint256 internal constant MARKET_HAS_VECTOR = 90;
    uint256 internal constant VECTOR_MARK = 91;
    uint256 internal constant VECTOR_SHORT_CHARGE = 139;
    uint256 internal constant VECTOR_SCENARIOS = 147;

    /// @notice The portfolio a leaf holds (absent: no cash, no positions), and whether its
    /// bytes decode as crates/exchange `decode_portfolio` accepts them.
    function portfolioOf(bool present, bytes memory value) internal pure returns (bool valid, Portfolio memory p) {
        if (!present) return (true, p);
        if (value.length < PORTFOLIO_HEADER_BYTES) return (false, p);
        uint256 count = uint8(value[16]);
        if (count > POSITIONS_MAX || value.length != PORTFOLIO_HEADER_BYTES + POSITION_BYTES * count) {
            return (false, p);
        }
        p.cash = signed(value, 0, 16);
        p.positions = new Position[](count);
        for (uint256 i = 0; i < count; i++) {
            uint256 at = PORTFOLIO_HEADER_BYTES + POSITION_BYTES * i;
            Position memory position = p.positions[i];
            position.market = uint32(readUint(value, at, 4));
            // Each cast reads a field of exactly its width.
            // forge-lint: disable-next-line(unsafe-typecast)
            position.size = int64(signed(value, at + 4, 8));
            // forge-lint: disable-next-line(unsafe-typecast)
            position.fundingSnapshot = int128(signed(value, at + 12, 16));
            // forge-lint: disable-next-line(unsafe-typecast)
            position.cost = int128(signed(value, at + 28, 16));
            if (position.size == 0 || (i > 0 && p.positions[i - 1].market >= position.market)) return (false, p);
        }
        return (true, p);
    }

    /// @notice The leaf bytes of `p` (crates/exchange `encode_portfolio`), written into one
    /// allocation (concatenating position by position copied the growing value each time:
    /// quadratic in memory, which a match pays for every portfolio it writes).
    function encode(Portfolio memory p) internal pure returns (bytes memory value) {
        uint256 count = p.positions.length;
        // One word of slack: each field is stored with a whole-word write.
        value = new bytes(PORTFOLIO_HEADER_BYTES + POSITION_BYTES * count + 32);
        int256 cash = p.cash;
        assembly ("memory-safe") {
            let at := add(value, 32)
            mstore(at, shl(128, and(cash, 0xffffffffffffffffffffffffffffffff)))
            mstore8(add(at, 16), count)
        }
        for (uint256 i = 0; i < count; i++) {
            Position memory q = p.positions[i];
            (uint32 market, int64 size, int128 snapshot, int128 cost) = (q.market, q.size, q.fundingSnapshot, q.cost);
            assembly ("memory-safe") {
                let at := add(add(value, 32), add(17, mul(44, i)))
                mstore(at, shl(224, market))
                mstore(add(at, 4), shl(192, and(size, 0xffffffffffffffff)))
                mstore(add(at, 12), shl(128, and(snapshot, 0xffffffffffffffffffffffffffffffff)))
                mstore(add(at, 28), shl(128, and(cost, 0xffffffffffffffffffffffffffffffff)))
            }
        }
        assembly ("memory-safe") {
            mstore(value, sub(mload(value), 32))
        }
    }

    /// @notice Whether a market leaf decodes (crates/exchange `decode_market`): a known
    /// status and exactly the vector its flag announces.
    function isMarket(bytes memory value) internal pure returns (bool) {
        if (value.length < MARKET_BYTES) return false;
        uint8 status = uint8(value[MARKET_STATUS]);
        uint8 hasVector = uint8(value[MARKET_HAS_VECTOR]);
        uint8 kind = uint8(value[8]);
        if (status > 1 || hasVector > 1 || kind > 2) return false;
        return value.length == MARKET_BYTES + (hasVector == 1 ? VECTOR_BYTES : 0);
    }

    /// @notice `p` with everything owed settled into cash (`Clearinghouse::normalized`):
    /// each position pays the funding accrued since its snapshot (a long pays an index
    /// increase) and is paid `size · value` if its market settled (and closes), else keeps
    /// going from the market's funding index. `markets[i]` is position i's market leaf
    /// (decoded by `isMarket`). Returns the kept positions' market leaves and the sub-micro
    /// remainder (femto-USDC, ≥ 0) the rounding kept back.
    function normalise(Portfolio memory p, bytes[] memory markets)
        internal
        pure
        returns (Portfolio memory kept, bytes[] memory keptMarkets, int256 remainder)
    {
        uint256 count = p.positions.length;
        kept.cash = p.cash;
        kept.positions = new Position[](count);
        keptMarkets = new bytes[](count);
        uint256 keeping;
        for (uint256 i = 0; i < count; i++) {
            Position memory position = p.positions[i];
            bytes memory market = markets[i];
            int256 size = position.size;
            int256 fundingIndex = signed(market, MARKET_FUNDING_INDEX, 16);
            int256 accrued = fundingIndex - position.fundingSnapshot;
            remainder += credit(kept, -size * accrued);
            if (uint8(market[MARKET_STATUS]) == 1) {
                // size (10^-6) × value (10^-6 USDC) = pico; × 1000 = femto.
                remainder += credit(kept, size * int256(readUint(market, MARKET_SETTLEMENT_VALUE, 8)) * 1_000);
            } else {
                // forge-lint: disable-next-line(unsafe-typecast)
                position.fundingSnapshot = int128(fundingIndex);
                kept.positions[keeping] = position;
                keptMarkets[keeping] = market;
                keeping++;
            }
        }
        Position[] memory positions = kept.positions;
        assembly ("memory-safe") {
            mstore(positions, keeping)
            mstore(keptMarkets, keeping)
        }
    }

    /// @dev Adds `floor(amountFemto / 10^9)` micro-USDC to the cash; returns the rest.
    function credit(Portfolio memory p, int256 amountFemto) private pure returns (int256 rest) {
        int256 micro = floorDiv(amountFemto, FEMTO_PER_MICRO);
        p.cash += micro;
        return amountFemto - micro * FEMTO_PER_MICRO;
    }

    /// @notice Equity and margin of a normalised portfolio (`risk_of_normalized` with
    /// `margin`): `loss(s) = −Σ q·pnl(s)`; maintenance = ceil((max(0, max_s loss) + Σ over
    /// shorts |q|·shortCharge) / 10^9) and initial = ceil(ceil(maintenance_femto · 1.25) /
    /// 10^9) micro-USDC; equity = cash + floor(Σ q·mark / 10^9). `markets[i]` is position
    /// i's market leaf. Not `priced` when a position's market has no vector or a position
    /// is larger than the bound (the STF refuses then).
    function margin(Portfolio memory p, bytes[] memory markets)
        internal
        pure
        returns (bool priced, int256 equity, int256 maintenance, int256 initial)
    {
        Risk memory r;
        (priced, r) = riskOf(p, markets);
        if (!priced) return (false, 0, 0, 0);
        (equity, maintenance, initial) = requirements(r, p.cash);
    }

    /// @notice The sums the margin is made of (linear in the positions): per scenario
    /// Σ q·pnl(s), Σ |q|·charge over short positions, Σ q·mark (femto-USDC).
    struct Risk {
        int256[SCENARIO_COUNT] pnl;
        int256 shortCharge;
        int256 markValue;
    }

    /// @notice `p`'s risk sums over `markets` (the leaf of each position's market, in
    /// order); not priced when a market has no vector or a position is out of bounds.
    function riskOf(Portfolio memory p, bytes[] memory markets) internal pure returns (bool priced, Risk memory r) {
        for (uint256 i = 0; i < p.positions.length; i++) {
            if (!shift(r, markets[i], 0, p.positions[i].size)) return (false, r);
        }
        return (true, r);
    }

    /// @notice `r` after the position in `market` went from `sizeBefore` to
    /// `sizeAfter` (from 0: a new position; a trade): the sums are linear, so only that
    /// market's terms change and the result is exactly `riskOf` of the changed portfolio.
    /// False when the new size is out of bounds or the market has no vector (as `riskOf`
    /// would say).
    function shift(Risk memory r, bytes memory market, int256 sizeBefore, int256 sizeAfter)
        internal
        pure
        returns (bool priced)
    {
        if (uint8(market[MARKET_HAS_VECTOR]) != 1 || sizeAfter > POSITION_SIZE_MAX || sizeAfter < -POSITION_SIZE_MAX) {
            return false;
        }
        accumulate(r.pnl, market, sizeAfter - sizeBefore);
        int256 charge = signed(market, VECTOR_SHORT_CHARGE, 8);
        if (sizeBefore < 0) r.shortCharge += sizeBefore * charge;
        if (sizeAfter < 0) r.shortCharge -= sizeAfter * charge;
        r.markValue += (sizeAfter - sizeBefore) * signed(market, VECTOR_MARK, 8);
        return true;
    }

    /// @notice Equity (cash plus value at mark, floored), and the maintenance and initial
    /// requirements (rounded up), micro-USDC.
    function requirements(Risk memory r, int256 cash)
        internal
        pure
        returns (int256 equity, int256 maintenance, int256 initial)
    {
        int256 worst = lowest(r.pnl);
        int256 maintenanceFemto = (worst < 0 ? -worst : int256(0)) + r.shortCharge;
        maintenance = ceilDiv(maintenanceFemto, FEMTO_PER_MICRO);
        initial = ceilDiv(ceilDiv(maintenanceFemto * INITIAL_FACTOR_PPM, 1_000_000), FEMTO_PER_MICRO);
        equity = cash + floorDiv(r.markValue, FEMTO_PER_MICRO);
    }

    /// @dev `pnl[s] += q · scenarioPnl(s)` for every scenario of `market`'s vector. In
    /// assembly: this loop is the margin's cost (29 multiply-adds per position), and
    /// compiled it spent ~150 gas an entry on bounds
    /// checks and checked arithmetic that cannot fail here (|q| ≤ 10^13, |pnl| < 2^63:
    /// a sum of 32 products stays far inside 255 bits).
    function accumulate(int256[SCENARIO_COUNT] memory pnl, bytes memory market, int256 q) private pure {
        assembly ("memory-safe") {
            let source := add(add(market, 32), 147) // VECTOR_SCENARIOS
            let end := add(pnl, 928) // 29 entries
            for { let slot := pnl } lt(slot, end) { slot := add(slot, 32) } {
                mstore(slot, add(mload(slot), mul(q, sar(192, mload(source)))))
                source := add(source, 8)
            }
        }
    }

    /// @dev The lowest entry (the worst scenario's P&L).
    function lowest(int256[SCENARIO_COUNT] memory pnl) private pure returns (int256 worst) {
        assembly ("memory-safe") {
            worst := mload(pnl)
            for { let s := 1 } lt(s, 29) { s := add(s, 1) } {
                let entry := mload(add(pnl, mul(s, 32)))
                if slt(entry, worst) { worst := entry }
            }
        }
    }

    /// @notice The signed size `p` holds in `market` (0 if none).
    function sizeIn(Portfolio memory p, uint32 market) internal pure returns (int256) {
        for (uint256 i = 0; i < p.positions.length; i++) {
            if (p.positions[i].market == market) return p.positions[i].size;
        }
        return 0;
    }

    /// @notice `Portfolio::trade`: changes the (funding-settled) position in `market` by
    /// `delta` contracts traded for `value` (micro-USDC, positive when paid for a buy); its
    /// snapshot becomes `fundingIndex`. The entry cost grows with opening trades, shrinks
    /// pro rata with closing ones (truncating toward zero) and restarts at the opening part
    /// of a trade that flips the side; a position that reaches zero is removed, a new one
    /// inserted in market order.
    function trade(Portfolio memory p, uint32 market, int256 delta, int256 value, int256 fundingIndex) internal pure {
        uint256 count = p.positions.length;
        uint256 at;
        while (at < count && p.positions[at].market < market) at++;
        bool found = at < count && p.positions[at].market == market;
        int256 old = found ? int256(p.positions[at].size) : int256(0);
        int256 oldCost = found ? int256(p.positions[at].cost) : int256(0);
        int256 next = old + delta;
        int256 cost;
        if (next == 0) cost = 0;
        else if (old == 0 || (old > 0) == (delta > 0)) cost = oldCost + value;
        else if ((next > 0) == (old > 0)) cost = oldCost * next / old;
        else cost = value * next / delta;
        if (found && next != 0) {
            Position memory position = p.positions[at];
            // Sizes stay within POSITION_SIZE_MAX and costs within 128 bits on any state
            // the Rust STF can reach.
            // forge-lint: disable-next-line(unsafe-typecast)
            (position.size, position.fundingSnapshot, position.cost) = (int64(next), int128(fundingIndex), int128(cost));
            return;
        }
        if (!found && next == 0) return;
        Position[] memory resized = new Position[](found ? count - 1 : count + 1);
        for (uint256 i = 0; i < resized.length; i++) {
            if (found) {
                resized[i] = p.positions[i < at ? i : i + 1];
            } else if (i == at) {
                // forge-lint: disable-next-line(unsafe-typecast)
                resized[i] = Position(market, int64(next), int128(fundingIndex), int128(cost));
            } else {
                resized[i] = p.positions[i < at ? i : i - 1];
            }
        }
        p.positions = resized;
    }

    /// @notice The clearing totals (`0x08`: fee pool, insurance fund, rounding reserve,
    /// placement count) with `fees` more in the pool, `insurance` more in the fund, and
    /// `remainderFemto` kept (`keep_remainder`): the reserve grows by it and its whole
    /// micro-USDC move to the insurance fund. (The STF applies these per fill or in
    /// another order; the sums are the same.)
    function settleTotals(bytes memory totals, int256 fees, int256 insurance, int256 remainderFemto)
        internal
        pure
        returns (bytes memory)
    {
        int256 reserve = signed(totals, 32, 16) + remainderFemto;
        int256 whole = floorDiv(reserve, FEMTO_PER_MICRO);
        reserve -= whole * FEMTO_PER_MICRO;
        int256 pool = signed(totals, 0, 16) + fees;
        int256 fund = signed(totals, 16, 16) + insurance + whole;
        // All three fit 128 bits on any state the Rust STF can reach.
        // forge-lint: disable-next-line(unsafe-typecast)
        (int128 pool128, int128 fund128, int128 reserve128) = (int128(pool), int128(fund), int128(reserve));
        return abi.encodePacked(pool128, fund128, reserve128, bytes8(slice(totals, 48, 8)));
    }

    /// @dev Floor division by a positive divisor (Rust's `div_euclid`).
    function floorDiv(int256 value, int256 divisor) internal pure returns (int256 q) {
        q = value / divisor;
        if (value % divisor != 0 && value < 0) q -= 1;
    }

    /// @dev Ceiling division by a positive divisor.
    function ceilDiv(int256 value, int256 divisor) internal pure returns (int256) {
        return floorDiv(value, divisor) + (value % divisor != 0 ? int256(1) : int256(0));
    }

    /// @dev The two's complement integer of `width` bytes at `offset` of `data`.
    function signed(bytes memory data, uint256 offset, uint256 width) internal pure returns (int256 result) {
        assembly ("memory-safe") {
            result := sar(sub(256, mul(8, width)), mload(add(add(data, 32), offset)))
        }
    }

    /// @dev The big-endian unsigned integer of `width` bytes at `offset` of `data`.
    function readUint(bytes memory data, uint256 offset, uint256 width) internal pure returns (uint256 result) {
        assembly ("memory-safe") {
            result := shr(sub(256, mul(8, width)), mload(add(add(data, 32), offset)))
        }
    }

    /// @dev `width` (≤ 32) bytes at `offset`, left-aligned.
    function slice(bytes memory data, uint256 offset, uint256 width) private pure returns (bytes32 result) {
        assembly ("memory-safe") {
            result := and(mload(add(add(data, 32), offset)), not(shr(mul(8, width), not(0))))
        }
    }
}
