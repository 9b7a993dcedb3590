// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title OptionPricer
/// @notice crates/math on L1, bit for bit: Q64.64 fixed point with floor rounding, `exp`,
/// `ln`, `sqrt`, the standard normal density, Mills ratio and CDF, and Black-76 prices
/// and Greeks (docs/spec/clearinghouse.md, "Fixed-point mathematics"). What the oracle
/// update's one-step proof prices options with.
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

    function bitLength(uint256 n) internal pure returns (uint256 length) {
        while (n != 0) {
            n >>= 1;
            length++;
        }
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
