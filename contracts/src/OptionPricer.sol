// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title OptionPricer
/// @notice crates/math on L1, bit for bit: Q64.64 fixed point with floor rounding, `exp`,
/// `ln`, `sqrt`, the standard normal density, Mills ratio and CDF, and Black-76 prices
/// and Greeks (docs/spec/clearinghouse.md, "Fixed-point mathematics"), and with them the
/// STF's risk vectors (crates/exchange `risk::scenarios` and `risk::vectors`: the scenario
/// grid, the smile's volatility, a perpetual's and a strike's call and put vectors). What
/// the oracle update's one-step proof prices markets with.
/// @dev A Q64.64 number is an int256 holding the Rust `Fixed`'s i128 raw value. Every
/// product of two of them fits 255 bits, so `floor(a·b / 2^64)` is an arithmetic shift
/// of the exact product; a result outside i128 is the Rust `Overflow` (here: not ok, or
/// a revert where the Rust caller guarantees it cannot happen). Every constant is read
/// from `table`, a data contract whose code is a STOP byte followed by
/// `straddle_math::constant_table()` (16-byte big-endian values: five scalars, 2^(j/32)
/// for j < 32, 1/k! for k ≤ 8, 1/(2k+1) for k < 15, then the Mills-ratio table of 80
/// intervals × 13 coefficients), so no constant is copied by hand into this source.
contract OptionPricer {
    /// @notice The constants' data contract.
    address public immutable table;

    int256 internal constant ONE = 1 << 64;
    int256 internal constant HALF = 1 << 63;
    int256 internal constant I128_MAX = type(int128).max;
    int256 internal constant I128_MIN = type(int128).min;

    // Positions of the constants in the table (in 16-byte values).
    uint256 internal constant LN_2 = 0;
    uint256 internal constant INV_SQRT_2PI = 1;
    uint256 internal constant SQRT_2 = 2;
    uint256 internal constant THIRTY_TWO_OVER_LN_2 = 3;
    uint256 internal constant LN_2_OVER_32_Q128 = 4;
    uint256 internal constant EXP2_FRACTIONS = 5;
    uint256 internal constant INV_FACTORIALS = 37;
    uint256 internal constant INV_ODD = 46;
    /// @notice The constants before the Mills-ratio table.
    uint256 internal constant SMALL_CONSTANTS = 61;
    uint256 internal constant MILLS_COEFFICIENTS = 13;

    uint256 internal constant EXP_DEGREE = 8;
    uint256 internal constant LN_TERMS = 15;
    int256 internal constant EXP_ARGUMENT_MAX = 43 << 64;
    int256 internal constant EXP_ARGUMENT_MIN = -45 << 64;
    int256 internal constant PDF_ARGUMENT_MAX = 40 << 64;
    /// @notice The Mills-ratio table covers [0, 20) in intervals of 1/4.
    int256 internal constant MILLS_X_MAX = 20 << 64;

    int256 internal constant PRICE_MAX = 1 << 104;
    int256 internal constant PRICE_MIN = 1 << 44;
    int256 internal constant SIGMA_MAX = 10 << 64;
    int256 internal constant SIGMA_MIN = 1 << 54;
    int256 internal constant YEARS_MAX = 10 << 64;
    int256 internal constant YEARS_MIN = 1 << 42;

    /// @notice Prices and Greeks of the call and put with the same inputs (`OptionValues`).
    struct Values {
        int256 call;
        int256 put;
        int256 deltaCall;
        int256 deltaPut;
        int256 gamma;
        int256 vega;
        int256 theta;
    }

    /// @notice Forward-normalised prices, φ(d1) and N(d1) (`PriceParts`).
    struct Parts {
        int256 call;
        int256 put;
        int256 phi;
        int256 cdfD1;
    }

    /// @notice Scenarios of the risk grid (crates/exchange SCENARIO_COUNT).
    uint256 internal constant SCENARIOS = 29;
    int256 internal constant PPM = 1_000_000;
    /// @notice Milliseconds in the 365-day year of time to expiry (MS_PER_YEAR).
    int256 internal constant MS_PER_YEAR = 31_536_000_000;
    /// @notice Option valuation never uses less time than this, ms (EXPIRY_HORIZON_MIN_MS).
    int256 internal constant EXPIRY_HORIZON_MIN_MS = 7_500;
    int256 internal constant I64_MAX = type(int64).max;
    int256 internal constant I64_MIN = type(int64).min;

    /// @notice An underlying's risk parameters as the vectors use them (`RiskParams`).
    struct RiskParams {
        uint32 spotShockMaxPpm;
        uint32 tailShockPpm;
        uint32 volDownPpm;
        uint32 volUpPpm;
        uint32 shortOptionMinPpm;
    }

    /// @notice The scenario grid (`ScenarioGrid`): spot shocks (ppm), `1 + shock`,
    /// `ln(1 + shock)` and the volatility multipliers, per scenario.
    struct Grid {
        int256[SCENARIOS] spotShockPpm;
        int256[SCENARIOS] spotFactor;
        int256[SCENARIOS] lnSpotFactor;
        int256[SCENARIOS] volFactor;
    }

    /// @notice A market's risk vector after an oracle update (`RiskVector`): nano-USDC
    /// and nano-units per contract.
    struct Vector {
        int256 mark;
        int256 delta;
        int256 gamma;
        int256 vega;
        int256 theta;
        int256 sigmaPpm;
        int256 shortCharge;
        int256[SCENARIOS] pnl;
    }

    /// @notice One strike's terms and the oracle's view (`strike_vectors`' arguments).
    struct Strike {
        uint64 strikeMicroUsdc;
        uint64 expiryMs;
        uint64 indexMicroUsdc;
        uint32 atmVolPpm;
        int32 skewPpm;
        uint32 curvaturePpm;
        uint64 nowMs;
    }

    /// @param table_ The constants' data contract.
    constructor(address table_) {
        table = table_;
    }

    // ------------------------------------------------------------ entry points

    /// @notice `black76`: not ok when an input is out of its bounds (or, which the bounds
    /// exclude, the arithmetic fails).
    function black76(int256 forward, int256 strike, int256 sigma, int256 yearsToExpiry)
        external
        view
        returns (bool ok, Values memory v)
    {
        return price(constants(), forward, strike, sigma, yearsToExpiry);
    }

    /// @notice `price_parts` for precomputed `ln m`, `m`, `v = σ√T` and `w = 1/v`.
    function priceParts(int256 lnMoneyness, int256 moneyness, int256 totalVol, int256 inverseVol)
        external
        view
        returns (bool ok, Parts memory p)
    {
        return parts(constants(), lnMoneyness, moneyness, totalVol, inverseVol);
    }

    /// @notice The single-argument functions at `x`: `exp` and `ln` (ok unless the Rust
    /// one errs), `sqrt` (of |x|), `φ`, `R` (Mills ratio) and `N`.
    function functions(int256 x)
        external
        view
        returns (bool expOk, int256 e, bool lnOk, int256 l, int256 root, int256 density, int256 mills, int256 cdf)
    {
        int256[] memory c = constants();
        (expOk, e) = exp(c, x);
        (lnOk, l) = ln(c, x);
        root = sqrt(x < 0 ? -x : x);
        density = pdf(c, x);
        mills = millsRatio(x);
        cdf = normalCdf(c, x);
    }

    /// @notice `perpetual_vector`: not ok when a value does not fit its 64 bits.
    function perpetualVector(uint64 markMicroUsdc, RiskParams calldata params)
        external
        pure
        returns (bool ok, Vector memory v)
    {
        int256[SCENARIOS] memory shocks = spotShocks(params);
        v.mark = int256(uint256(markMicroUsdc)) * 1_000;
        for (uint256 i = 0; i < SCENARIOS; i++) {
            v.pnl[i] = floorDivInt(v.mark * shocks[i], PPM);
            if (v.pnl[i] > I64_MAX || v.pnl[i] < I64_MIN) return (false, v);
        }
        v.delta = 1_000_000_000;
        ok = v.mark <= I64_MAX;
    }

    /// @notice `strike_vectors`: the call's and the put's vectors of one strike and
    /// expiry; not ok when the STF's computation errs (expired, out of the pricer's
    /// bounds, a value beyond 64 bits).
    function strikeVectors(Strike calldata strike, RiskParams calldata params)
        external
        view
        returns (bool ok, Vector memory call, Vector memory put)
    {
        int256[] memory c = constants();
        Grid memory grid;
        (ok, grid) = gridOf(c, params);
        if (!ok) return (false, call, put);
        return vectorsOf(c, strike, grid, params.shortOptionMinPpm);
    }

    // ------------------------------------------------------------ risk vectors

    /// @dev The scenarios' spot shocks, ppm: 9 levels from −max to max (truncated
    /// quarters) × 3 volatility levels, then the two tails.
    function spotShocks(RiskParams calldata params) internal pure returns (int256[SCENARIOS] memory shocks) {
        int256 max = int256(uint256(params.spotShockMaxPpm));
        for (uint256 i = 0; i < 27; i++) {
            // The spot level i / 3 is 0 to 8. Truncated toward zero, as Rust's `/`.
            // forge-lint: disable-next-line(unsafe-typecast)
            shocks[i] = max * (int256(i / 3) - 4) / 4;
        }
        shocks[27] = -int256(uint256(params.tailShockPpm));
        shocks[28] = int256(uint256(params.tailShockPpm));
    }

    /// @dev `ScenarioGrid::new`.
    function gridOf(int256[] memory c, RiskParams calldata params) internal pure returns (bool ok, Grid memory g) {
        g.spotShockPpm = spotShocks(params);
        int256[3] memory vols = [int256(uint256(params.volDownPpm)), PPM, int256(uint256(params.volUpPpm))];
        for (uint256 i = 0; i < SCENARIOS; i++) {
            (ok, g.spotFactor[i]) = checkedDiv(PPM + g.spotShockPpm[i], PPM);
            if (!ok) return (false, g);
            (ok, g.lnSpotFactor[i]) = ln(c, g.spotFactor[i]);
            if (!ok) return (false, g);
            (ok, g.volFactor[i]) = checkedDiv(i < 27 ? vols[i % 3] : vols[2], PPM);
            if (!ok) return (false, g);
        }
    }

    /// @dev What one strike's vectors share: the pricing at the index, the log
    /// moneyness, the volatility and the three volatility levels (`v` and `1/v`).
    struct Priced {
        int256 forward;
        int256 strike;
        int256 lnMoneyness;
        int256 sigma;
        Values values;
        int256[3] totalVol;
        int256[3] inverseVol;
    }

    /// @dev `strike_vectors` from the grid.
    function vectorsOf(int256[] memory c, Strike calldata strike, Grid memory grid, uint32 shortOptionMinPpm)
        internal
        view
        returns (bool ok, Vector memory call, Vector memory put)
    {
        Priced memory p;
        (ok, p) = pricedAt(c, strike, grid);
        if (!ok) return (false, call, put);
        (ok, call.pnl, put.pnl) = scenarioPnl(c, p, grid);
        if (!ok) return (false, call, put);
        int256[5] memory shared;
        (ok, shared) = sharedTerms(p, strike.indexMicroUsdc, shortOptionMinPpm);
        if (!ok) return (false, call, put);
        bool callOk = side(call, p.values.call, p.values.deltaCall, shared);
        bool putOk = side(put, p.values.put, p.values.deltaPut, shared);
        ok = callOk && putOk;
    }

    /// @dev The pricing at the index with the smile's volatility (sticky strike).
    function pricedAt(int256[] memory c, Strike calldata strike, Grid memory grid)
        internal
        view
        returns (bool ok, Priced memory p)
    {
        if (strike.nowMs >= strike.expiryMs) return (false, p);
        int256 remaining = int256(uint256(strike.expiryMs - strike.nowMs));
        if (remaining < EXPIRY_HORIZON_MIN_MS) remaining = EXPIRY_HORIZON_MIN_MS;
        int256 yearsLeft;
        (ok, yearsLeft) = checkedDiv(remaining, MS_PER_YEAR);
        if (!ok) return (false, p);
        (ok, p.forward) = checkedDiv(int256(uint256(strike.indexMicroUsdc)), PPM);
        if (!ok) return (false, p);
        (ok, p.strike) = checkedDiv(int256(uint256(strike.strikeMicroUsdc)), PPM);
        if (!ok) return (false, p);
        int256 moneyness;
        (ok, moneyness) = checkedDiv(p.strike, p.forward);
        if (!ok) return (false, p);
        (ok, p.lnMoneyness) = ln(c, moneyness);
        if (!ok) return (false, p);
        (ok, p.sigma) = smileSigma(strike, p.lnMoneyness);
        if (!ok) return (false, p);
        (ok, p.values) = price(c, p.forward, p.strike, p.sigma, yearsLeft);
        if (!ok) return (false, p);
        int256 total = mulFloor(p.sigma, sqrt(yearsLeft));
        for (uint256 level = 0; level < 3; level++) {
            (ok, p.totalVol[level]) = checkedMul(total, grid.volFactor[level]);
            if (!ok) return (false, p);
            (ok, p.inverseVol[level]) = checkedDiv(ONE, p.totalVol[level]);
            if (!ok) return (false, p);
        }
    }

    /// @dev `VolSmile::sigma`: `atm + skew·x + curvature·x²`, clamped to the pricer's
    /// volatility bounds.
    function smileSigma(Strike calldata strike, int256 x) internal pure returns (bool ok, int256 sigma) {
        int256 atm;
        int256 skew;
        int256 curvature;
        (ok, atm) = checkedDiv(int256(uint256(strike.atmVolPpm)), PPM);
        if (!ok) return (false, 0);
        (ok, skew) = checkedDiv(int256(strike.skewPpm), PPM);
        if (!ok) return (false, 0);
        (ok, curvature) = checkedDiv(int256(uint256(strike.curvaturePpm)), PPM);
        if (!ok) return (false, 0);
        int256 linear;
        (ok, linear) = checkedMul(skew, x);
        if (!ok) return (false, 0);
        int256 square;
        (ok, square) = checkedMul(x, x);
        if (!ok) return (false, 0);
        int256 convex;
        (ok, convex) = checkedMul(curvature, square);
        if (!ok) return (false, 0);
        sigma = atm + linear;
        if (sigma > I128_MAX || sigma < I128_MIN) return (false, 0);
        sigma += convex;
        if (sigma > I128_MAX || sigma < I128_MIN) return (false, 0);
        if (sigma < SIGMA_MIN) sigma = SIGMA_MIN;
        if (sigma > SIGMA_MAX) sigma = SIGMA_MAX;
        return (true, sigma);
    }

    /// @dev Each scenario's P&L of one long call and put, nano-USDC: the scenario's
    /// price (`price_parts` at the shocked forward and volatility level) less the mark.
    function scenarioPnl(int256[] memory c, Priced memory p, Grid memory grid)
        internal
        view
        returns (bool ok, int256[SCENARIOS] memory calls, int256[SCENARIOS] memory puts)
    {
        int256 factor = -1;
        int256 shockedForward;
        int256 shockedMoneyness;
        for (uint256 i = 0; i < SCENARIOS; i++) {
            if (grid.spotFactor[i] != factor) {
                factor = grid.spotFactor[i];
                (ok, shockedForward) = checkedMul(p.forward, factor);
                if (!ok) return (false, calls, puts);
                (ok, shockedMoneyness) = checkedDiv(p.strike, shockedForward);
                if (!ok) return (false, calls, puts);
            }
            uint256 level = i < 27 ? i % 3 : 2;
            Parts memory scenario;
            (ok, scenario) = parts(
                c, p.lnMoneyness - grid.lnSpotFactor[i], shockedMoneyness, p.totalVol[level], p.inverseVol[level]
            );
            if (!ok) return (false, calls, puts);
            (ok, calls[i]) = pnlNano(scenario.call, shockedForward, p.values.call);
            if (!ok) return (false, calls, puts);
            (ok, puts[i]) = pnlNano(scenario.put, shockedForward, p.values.put);
            if (!ok) return (false, calls, puts);
        }
    }

    /// @dev `to_nano(normalised · forward − mark)`.
    function pnlNano(int256 normalised, int256 forward, int256 mark) internal pure returns (bool ok, int256 nano) {
        int256 value;
        (ok, value) = checkedMul(normalised, forward);
        if (!ok) return (false, 0);
        return toNano(value - mark);
    }

    /// @dev Gamma, vega per volatility point, theta per day (nano), the volatility
    /// (ppm) and the short-option charge (nano-USDC), which both sides share.
    function sharedTerms(Priced memory p, uint64 indexMicroUsdc, uint32 shortOptionMinPpm)
        internal
        pure
        returns (bool ok, int256[5] memory shared)
    {
        (ok, shared[0]) = toNano(p.values.gamma);
        if (!ok) return (false, shared);
        int256 perPoint;
        (ok, perPoint) = checkedDiv(p.values.vega, 100 * ONE);
        if (!ok) return (false, shared);
        (ok, shared[1]) = toNano(perPoint);
        if (!ok) return (false, shared);
        int256 perDay;
        (ok, perDay) = checkedDiv(p.values.theta, 365 * ONE);
        if (!ok) return (false, shared);
        (ok, shared[2]) = toNano(perDay);
        if (!ok) return (false, shared);
        (ok, shared[3]) = toDecimalFloor(p.sigma, 1_000_000);
        if (!ok || shared[3] > I64_MAX || shared[3] < I64_MIN) return (false, shared);
        shared[4] = int256(uint256(indexMicroUsdc)) * 1_000 * int256(uint256(shortOptionMinPpm)) / PPM;
        ok = shared[4] <= I64_MAX;
    }

    /// @dev One side's vector: its mark and delta, and the shared terms.
    function side(Vector memory v, int256 mark, int256 delta, int256[5] memory shared) internal pure returns (bool) {
        bool markOk;
        bool deltaOk;
        (markOk, v.mark) = toNano(mark);
        (deltaOk, v.delta) = toNano(delta);
        (v.gamma, v.vega, v.theta, v.sigmaPpm, v.shortCharge) = (shared[0], shared[1], shared[2], shared[3], shared[4]);
        return markOk && deltaOk;
    }

    /// @dev `to_nano`: `floor(x · 10^9)` as an integer within i64.
    function toNano(int256 x) internal pure returns (bool ok, int256 nano) {
        (ok, nano) = toDecimalFloor(x, 1_000_000_000);
        ok = ok && nano <= I64_MAX && nano >= I64_MIN;
    }

    /// @dev `to_decimal_floor`: `floor(x · scale / 2^64)` within i128.
    function toDecimalFloor(int256 x, int256 scale) internal pure returns (bool ok, int256 value) {
        return checkedMul(x, scale);
    }

    /// @dev `a.div_euclid(b)` for b > 0: the floor of a / b.
    function floorDivInt(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b;
        if (a % b != 0 && a < 0) q -= 1;
    }

    // ------------------------------------------------------------ Q64.64

    /// @dev `floor(a·b / 2^64)`, ok when it fits i128 (`checked_mul`).
    function checkedMul(int256 a, int256 b) internal pure returns (bool ok, int256 product) {
        product = (a * b) >> 64;
        ok = product >= I128_MIN && product <= I128_MAX;
    }

    /// @dev `mul_floor`: the caller guarantees the product fits.
    function mulFloor(int256 a, int256 b) internal pure returns (int256 product) {
        bool ok;
        (ok, product) = checkedMul(a, b);
        require(ok, "fixed-point overflow");
    }

    /// @dev `floor(a·2^64 / b)`, ok when `b ≠ 0` and it fits i128 (`checked_div`).
    function checkedDiv(int256 a, int256 b) internal pure returns (bool ok, int256 quotient) {
        if (b == 0) return (false, 0);
        int256 numerator = a * ONE;
        quotient = numerator / b;
        if (numerator % b != 0 && ((numerator < 0) != (b < 0))) quotient -= 1;
        ok = quotient >= I128_MIN && quotient <= I128_MAX;
    }

    /// @dev `div_floor`: the caller guarantees `b ≠ 0` and that the quotient fits.
    function divFloor(int256 a, int256 b) internal pure returns (int256 quotient) {
        bool ok;
        (ok, quotient) = checkedDiv(a, b);
        require(ok, "fixed-point overflow");
    }

    /// @dev `floor(sqrt(x))` of a non-negative Q64.64: the integer square root of
    /// `x · 2^64`.
    function sqrt(int256 x) internal pure returns (int256) {
        // Non-negative (`sqrt` of a negative number is the Rust `Domain` error; callers
        // pass |x| or a bounded input).
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 n = uint256(x) << 64;
        if (n == 0) return 0;
        // A first guess at or above the root, then Newton's steps down to its floor.
        uint256 guess = uint256(1) << ((bitLength(n) + 1) / 2);
        while (true) {
            uint256 next = (guess + n / guess) >> 1;
            if (next >= guess) break;
            guess = next;
        }
        // The cast is of a root below 2^96.
        // forge-lint: disable-next-line(unsafe-typecast)
        return int256(guess);
    }

    /// @dev The number of bits of `n` (0 for 0), by halving the range eight times instead
    /// of shifting one bit at a time (sqrt asks for it on every call).
    function bitLength(uint256 n) internal pure returns (uint256 length) {
        for (uint256 half = 128; half > 0; half >>= 1) {
            if (n >> half != 0) {
                n >>= half;
                length += half;
            }
        }
        if (n != 0) length += 1;
    }

    // ------------------------------------------------------------ exp, ln

    /// @dev `Fixed::exp`: not ok above `EXP_ARGUMENT_MAX`; 0 below `EXP_ARGUMENT_MIN`.
    function exp(int256[] memory c, int256 x) internal pure returns (bool, int256) {
        if (x > EXP_ARGUMENT_MAX) return (false, 0);
        if (x < EXP_ARGUMENT_MIN) return (true, 0);
        int256 k = (mulFloor(x, c[THIRTY_TWO_OVER_LN_2]) + HALF) >> 64;
        int256 n = k >> 5;
        // `k & 31` is 0 to 31.
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 j = uint256(k & 31);
        int256 r = x - mulFloor(k, c[LN_2_OVER_32_Q128]);
        int256 p = c[INV_FACTORIALS + EXP_DEGREE];
        for (uint256 i = EXP_DEGREE; i > 0; i--) {
            p = c[INV_FACTORIALS + i - 1] + mulFloor(r, p);
        }
        int256 scaled = mulFloor(p, c[EXP2_FRACTIONS + j]);
        // n is within ±65 here (|k| < 2^11): both casts are of small non-negative values.
        // forge-lint: disable-next-line(unsafe-typecast)
        if (n >= 0) return (true, scaled << uint256(n));
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 down = uint256(-n);
        return (true, scaled >> (down > 127 ? 127 : down));
    }

    /// @dev `Fixed::ln`: not ok for x ≤ 0.
    function ln(int256[] memory c, int256 x) internal pure returns (bool, int256) {
        if (x <= 0) return (false, 0);
        // Positive: the bit length of an i128 is at most 127.
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 exponent = int256(bitLength(uint256(x))) - 1 - 64;
        // |exponent| < 128.
        // forge-lint: disable-next-line(unsafe-typecast)
        int256 mantissa = exponent >= 0 ? x >> uint256(exponent) : x << uint256(-exponent);
        int256 s;
        if (mantissa > c[SQRT_2]) {
            exponent += 1;
            s = divFloor(mantissa - 2 * ONE, mantissa + 2 * ONE);
        } else {
            s = divFloor(mantissa - ONE, mantissa + ONE);
        }
        int256 sSquared = mulFloor(s, s);
        int256 series = c[INV_ODD + LN_TERMS - 1];
        for (uint256 k = LN_TERMS - 1; k > 0; k--) {
            series = c[INV_ODD + k - 1] + mulFloor(sSquared, series);
        }
        return (true, 2 * mulFloor(s, series) + exponent * c[LN_2]);
    }

    // ------------------------------------------------------------ the normal distribution

    /// @dev `φ(x) = e^(−x²/2) / √(2π)`; 0 for |x| ≥ 40.
    function pdf(int256[] memory c, int256 x) internal pure returns (int256) {
        if ((x < 0 ? -x : x) >= PDF_ARGUMENT_MAX) return 0;
        (, int256 e) = exp(c, -(mulFloor(x, x) >> 1));
        return mulFloor(e, c[INV_SQRT_2PI]);
    }

    /// @dev The Mills ratio `R(x) = N(−x)/φ(x)` for x ≥ 0 (negative x is taken as 0): a
    /// polynomial of degree 12 on intervals of 1/4 below 20, the asymptotic series above.
    function millsRatio(int256 x) internal view returns (int256 value) {
        if (x < 0) x = 0;
        if (x < MILLS_X_MAX) {
            // 0 ≤ x < 20 · 2^64: the index is 0 to 79.
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 index = uint256(x >> 62);
            // forge-lint: disable-next-line(unsafe-typecast)
            int256 u = x - (int256(2 * index + 1) << 61);
            int256[] memory coefficients = millsInterval(index);
            value = coefficients[MILLS_COEFFICIENTS - 1];
            for (uint256 k = MILLS_COEFFICIENTS - 1; k > 0; k--) {
                value = coefficients[k - 1] + mulFloor(value, u);
            }
            return value;
        }
        int256 inverse = divFloor(ONE, x);
        int256 y = mulFloor(inverse, inverse);
        // (−1)^k (2k−1)!! for k = 0..10.
        int32[11] memory asymptotic =
            [int32(1), -1, 3, -15, 105, -945, 10_395, -135_135, 2_027_025, -34_459_425, 654_729_075];
        int256 series = int256(asymptotic[10]) << 64;
        for (uint256 k = 10; k > 0; k--) {
            series = (int256(asymptotic[k - 1]) << 64) + mulFloor(series, y);
        }
        return mulFloor(series, inverse);
    }

    /// @dev `N(x)`.
    function normalCdf(int256[] memory c, int256 x) internal view returns (int256) {
        int256 tail = mulFloor(pdf(c, x), millsRatio(x < 0 ? -x : x));
        return x >= 0 ? ONE - tail : tail;
    }

    // ------------------------------------------------------------ Black-76

    /// @dev `black76`.
    function price(int256[] memory c, int256 forward, int256 strike, int256 sigma, int256 yearsToExpiry)
        internal
        view
        returns (bool ok, Values memory v)
    {
        if (
            forward < PRICE_MIN || forward > PRICE_MAX || strike < PRICE_MIN || strike > PRICE_MAX || sigma < SIGMA_MIN
                || sigma > SIGMA_MAX || yearsToExpiry < YEARS_MIN || yearsToExpiry > YEARS_MAX
        ) return (false, v);
        int256 moneyness;
        (ok, moneyness) = checkedDiv(strike, forward);
        if (!ok) return (false, v);
        int256 sqrtYears = sqrt(yearsToExpiry);
        int256 totalVol = mulFloor(sigma, sqrtYears);
        int256 inverseVol;
        (ok, inverseVol) = checkedDiv(ONE, totalVol);
        if (!ok) return (false, v);
        (bool lnOk, int256 lnMoneyness) = ln(c, moneyness);
        if (!lnOk) return (false, v);
        Parts memory p;
        (ok, p) = parts(c, lnMoneyness, moneyness, totalVol, inverseVol);
        if (!ok) return (false, v);
        return greeks(p, forward, sigma, sqrtYears, totalVol);
    }

    /// @dev The prices and Greeks from the normalised parts.
    function greeks(Parts memory p, int256 forward, int256 sigma, int256 sqrtYears, int256 totalVol)
        internal
        pure
        returns (bool ok, Values memory v)
    {
        int256 phiForward = mulFloor(p.phi, forward);
        v.call = mulFloor(p.call, forward);
        v.put = mulFloor(p.put, forward);
        v.deltaCall = p.cdfD1;
        v.deltaPut = p.cdfD1 - ONE;
        int256 scale;
        (ok, scale) = checkedMul(forward, totalVol);
        if (!ok) return (false, v);
        (ok, v.gamma) = checkedDiv(p.phi, scale);
        if (!ok) return (false, v);
        v.vega = mulFloor(phiForward, sqrtYears);
        int256 theta;
        (ok, theta) = checkedDiv(mulFloor(phiForward, sigma), sqrtYears + sqrtYears);
        v.theta = -theta;
    }

    /// @dev `price_parts`: the region's form that never subtracts two nearly equal tails.
    function parts(int256[] memory c, int256 lnMoneyness, int256 moneyness, int256 totalVol, int256 inverseVol)
        internal
        view
        returns (bool ok, Parts memory p)
    {
        int256 scaled;
        (ok, scaled) = checkedMul(-lnMoneyness, inverseVol);
        if (!ok) return (false, p);
        int256 d1 = scaled + (totalVol >> 1);
        int256 d2 = d1 - totalVol;
        p.phi = pdf(c, d1);
        int256 millsD1 = millsRatio(d1 < 0 ? -d1 : d1);
        if (d1 <= 0) {
            int256 timeValue = mulFloor(p.phi, millsD1 - millsRatio(-d2));
            (p.call, p.put) = (timeValue, moneyness - ONE + timeValue);
        } else if (d2 < 0) {
            int256 tails = mulFloor(p.phi, millsD1 + millsRatio(-d2));
            (p.call, p.put) = (ONE - tails, moneyness - tails);
        } else {
            int256 timeValue = mulFloor(p.phi, millsRatio(d2) - millsD1);
            (p.call, p.put) = (ONE - moneyness + timeValue, timeValue);
        }
        int256 tailD1 = mulFloor(p.phi, millsD1);
        p.cdfD1 = d1 >= 0 ? ONE - tailD1 : tailD1;
    }

    // ------------------------------------------------------------ the constants

    /// @dev The 61 constants before the Mills-ratio table.
    function constants() internal view returns (int256[] memory c) {
        return read(0, SMALL_CONSTANTS);
    }

    /// @dev The 13 coefficients of Mills-ratio interval `index` (< 80).
    function millsInterval(uint256 index) internal view returns (int256[] memory) {
        return read(SMALL_CONSTANTS + MILLS_COEFFICIENTS * index, MILLS_COEFFICIENTS);
    }

    /// @dev `count` 16-byte values from position `first` of the table, sign-extended.
    function read(uint256 first, uint256 count) internal view returns (int256[] memory values) {
        values = new int256[](count);
        bytes memory raw = new bytes(16 * count + 16);
        address source = table;
        assembly ("memory-safe") {
            extcodecopy(source, add(raw, 32), add(1, mul(first, 16)), mul(count, 16))
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                mstore(add(values, mul(add(i, 1), 32)), sar(128, mload(add(add(raw, 32), mul(i, 16)))))
            }
        }
    }
}
