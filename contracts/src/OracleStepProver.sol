// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {StepRules} from "./StepRules.sol";
import {ISubStepProver} from "./ProverInterfaces.sol";
import {IPortalRecords} from "./PortalRecords.sol";
import {OptionPricer} from "./OptionPricer.sol";
import {PortfolioRisk} from "./PortfolioRisk.sol";

/// @title OracleStepProver
/// @notice The one-step prover's oracle updates (0x10), one sub-step at a time
/// (docs/spec/disputes.md §4.1): an update of an underlying with M active markets is
/// M + 1 sub-steps. Sub-step j ≤ M brings the market at place M − j of the underlying's
/// active list up to date (the highest id first, so that an expired option leaving the
/// list moves only markets already done): a perpetual accrues funding and gets its vector
/// at mark, an option gets its strike's vector from its expiry's smile or, expired, is
/// settled from the oracle window; sub-step M + 1 stores the new oracle state. Each
/// sub-step aggregates the transaction's reports again against the underlying's leaf,
/// whose oracle state only the last sub-step changes, exactly as the Rust STF does
/// (crates/exchange `aggregate`, `Ledger::apply_oracle_market`); an update the STF
/// refuses changes nothing at any sub-step. Pricing is `OptionPricer`'s.
/// @dev Leaves: a market sub-step reads the underlying's leaf (`0x06 ‖ id`) and the
/// market's (`0x05 ‖ id`), the last one the underlying's only; each with its proof against
/// the root after the previous leaves' writes.
contract OracleStepProver is StepRules, ISubStepProver {
    /// @notice An underlying's genesis configuration (crates/exchange `UnderlyingConfig`:
    /// the oracle's signers and rules, the funding cap and the risk parameters).
    struct UnderlyingConfig {
        uint32 id;
        address[] signers;
        uint8 quorum;
        uint64 stalenessMsMax;
        uint32 movePpmMax;
        uint32 fundingPremiumCapPpm;
        OptionPricer.RiskParams risk;
    }

    /// @notice The oracle part of an underlying's leaf: smiles packed as `expiry << 96 |
    /// atmVol << 64 | uint32(skew) << 32 | curvature` (ascending by expiry), recent values
    /// as `timestamp << 64 | index` (oldest first).
    struct OracleState {
        uint64 index;
        uint64 timestampMs;
        uint256[] smiles;
        uint256[] recent;
    }

    /// @dev An aggregation against the underlying's leaf.
    struct Update {
        bool accepted;
        OracleState state;
        uint64 elapsedMs;
        uint256 listAt;
    }

    /// @dev The reports of one update that pass every check.
    struct Valid {
        uint256 count;
        uint256[] indexes;
        uint256[] timestamps;
        uint256[] offsets;
    }

    /// @notice The transaction names an underlying the prover was not deployed with.
    error UnknownUnderlying(uint32 underlying);
    /// @notice A sub-step outside `[1, count]`, or a count the state does not give.
    error BadSubStep(uint256 index, uint256 count);

    uint8 internal constant KIND_ORACLE_UPDATE = 0x10;
    /// @notice Most reports (and signers) of one update (REPORTS_PER_UPDATE_MAX).
    uint256 internal constant REPORTS_MAX = 16;
    /// @notice Most expiries of one report (REPORT_EXPIRIES_MAX).
    uint256 internal constant REPORT_EXPIRIES_MAX = 8;
    uint256 internal constant REPORT_HEADER_BYTES = 21;
    uint256 internal constant REPORT_EXPIRY_BYTES = 20;
    uint256 internal constant SIGNATURE_BYTES = 65;
    /// @notice How far a report may be ahead of the block, ms (REPORT_FUTURE_MS_MAX).
    uint256 internal constant REPORT_FUTURE_MS_MAX = 2_000;
    uint256 internal constant SETTLEMENT_WINDOW_LEN = 8;
    uint256 internal constant SMILES_MAX = 16;
    uint256 internal constant ATM_VOL_PPM_MIN = 10_000;
    uint256 internal constant ATM_VOL_PPM_MAX = 10_000_000;
    /// @notice The funding period, ms (FUNDING_PERIOD_MS).
    int256 internal constant FUNDING_PERIOD_MS = 28_800_000;
    bytes32 internal constant PRICE_REPORT_TYPEHASH = keccak256(
        "PriceReport(uint32 underlying,uint64 timestampMs,uint64 indexPrice,uint64[] expiriesMs,uint32[] atmVolsPpm,int32[] skewsPpm,uint32[] curvaturesPpm)"
    );

    /// @notice The pricer of the risk vectors.
    OptionPricer public immutable pricer;
    mapping(uint32 => UnderlyingConfig) internal configs;

    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    /// @param pricer_ The chain's option pricer.
    /// @param underlyings The genesis underlyings.
    constructor(uint64 chainId, address verifyingContract, OptionPricer pricer_, UnderlyingConfig[] memory underlyings)
        StepRules(chainId, verifyingContract, IPortalRecords(address(0)), address(0))
    {
        pricer = pricer_;
        for (uint256 i = 0; i < underlyings.length; i++) {
            UnderlyingConfig memory c = underlyings[i];
            UnderlyingConfig storage stored = configs[c.id];
            stored.id = c.id;
            stored.signers = c.signers;
            stored.quorum = c.quorum;
            stored.stalenessMsMax = c.stalenessMsMax;
            stored.movePpmMax = c.movePpmMax;
            stored.fundingPremiumCapPpm = c.fundingPremiumCapPpm;
            stored.risk = c.risk;
        }
    }

    // ---------------------------------------------------------------- entry points

    /// @inheritdoc ISubStepProver
    /// @dev The underlying's active markets (its leaf, the witness's one leaf) plus one;
    /// one for bytes that do not decode as an oracle update (no leaf) or an unknown
    /// underlying.
    function subStepCount(bytes32 preRoot, bytes calldata transaction, bytes calldata witness)
        external
        pure
        returns (uint256)
    {
        (bool decodes, uint32 underlying) = decodeUpdate(transaction);
        if (!decodes) return 1;
        Leaf[] memory leaves = leavesOf(witness);
        requireCount(leaves, 1);
        unchanged(preRoot, leaves, single(oracleKey(underlying)));
        if (!leaves[0].present) return 1;
        (,,, uint256 active) = oracleLayout(leaves[0].value);
        return active + 1;
    }

    /// @inheritdoc ISubStepProver
    function subStep(
        bytes32 preRoot,
        uint64 timestampMs,
        bytes calldata transaction,
        uint256 index,
        uint256 count,
        bytes calldata witness
    ) external view returns (bytes32) {
        if (index == 0 || index > count) revert BadSubStep(index, count);
        return step(preRoot, transaction, SubStep(index, count, timestampMs), witness);
    }

    /// @dev Which sub-step, of how many, in a block at what time.
    struct SubStep {
        uint256 index;
        uint256 count;
        uint64 timestampMs;
    }

    /// @dev `subStep` after its bounds check.
    function step(bytes32 preRoot, bytes calldata transaction, SubStep memory at, bytes calldata witness)
        internal
        view
        returns (bytes32)
    {
        (bool decodes, uint32 underlying) = decodeUpdate(transaction);
        if (!decodes) return preRoot;
        return stepOn(preRoot, transaction, underlying, at, leavesOf(witness));
    }

    /// @dev `subStep` of a transaction that decodes.
    function stepOn(
        bytes32 preRoot,
        bytes calldata transaction,
        uint32 underlying,
        SubStep memory at,
        Leaf[] memory leaves
    ) internal view returns (bytes32) {
        bool last = at.index == at.count;
        requireCount(leaves, last ? 1 : 2);
        bytes[] memory keys = new bytes[](leaves.length);
        keys[0] = oracleKey(underlying);
        if (!leaves[0].present) {
            if (!last) revert BadSubStep(at.index, at.count);
            return unchanged(preRoot, leaves, keys);
        }
        Update memory u = aggregate(underlying, leaves[0].value, transaction, at.timestampMs);
        if (last) {
            if (!u.accepted) return unchanged(preRoot, leaves, keys);
            return write(preRoot, keys[0], leaves[0], 0, encodeOracle(u, leaves[0].value));
        }
        uint32 id = activeMarket(leaves[0].value, at);
        keys[1] = abi.encodePacked(uint8(0x05), id);
        if (!u.accepted) return unchanged(preRoot, leaves, keys);
        return marketStep(preRoot, keys, leaves, underlying, id, u, at.timestampMs);
    }

    /// @dev The market of sub-step `at`: the id at place `count − 1 − index` of the
    /// underlying's active markets (reverts past their end).
    function activeMarket(bytes memory value, SubStep memory at) internal pure returns (uint32) {
        (uint256 listAt,,, uint256 active) = listOf(value);
        uint256 place = at.count - 1 - at.index;
        if (place >= active) revert BadSubStep(at.index, at.count);
        return uint32(PortfolioRisk.readUint(value, listAt + 4 + 4 * place, 4));
    }

    // ---------------------------------------------------------------- markets

    /// @dev Sub-step of market `id`: its leaf updated; an expired option that settles
    /// leaves the underlying's active markets (that leaf is written first).
    function marketStep(
        bytes32 preRoot,
        bytes[] memory keys,
        Leaf[] memory leaves,
        uint32 underlying,
        uint32 id,
        Update memory u,
        uint64 timestampMs
    ) internal view returns (bytes32 root) {
        bytes memory market = leaves[1].value;
        if (
            !leaves[1].present || !PortfolioRisk.isMarket(market) || uint8(market[49]) != 0
                || PortfolioRisk.readUint(market, 0, 4) != id || PortfolioRisk.readUint(market, 4, 4) != underlying
        ) revert BadLeafValue(1);
        (bytes memory updated, bool settled) = updatedMarket(market, configs[underlying], u, timestampMs);
        root = preRoot;
        if (settled) {
            root = write(root, keys[0], leaves[0], 0, withMarket(leaves[0].value, id, false));
        } else {
            checkUnchanged(root, keys[0], leaves[0]);
        }
        return write(root, keys[1], leaves[1], 1, updated);
    }

    /// @dev The market leaf after the update (`apply_oracle_market`), and whether it
    /// settled.
    function updatedMarket(bytes memory market, UnderlyingConfig storage c, Update memory u, uint64 timestampMs)
        internal
        view
        returns (bytes memory updated, bool settled)
    {
        updated = new bytes(PortfolioRisk.MARKET_BYTES + PortfolioRisk.VECTOR_BYTES);
        copy(updated, 0, market, 0, PortfolioRisk.MARKET_HAS_VECTOR);
        uint8 kind = uint8(market[8]);
        uint256 expiry = PortfolioRisk.readUint(market, 17, 8);
        bool priced;
        OptionPricer.Vector memory v;
        if (kind == 0) {
            (priced, v) = perpetual(updated, c, u);
        } else if (timestampMs >= expiry) {
            settled = settleExpiry(updated, kind, expiry, u.state);
        } else {
            (priced, v) = option(market, c, u, kind, timestampMs);
        }
        if (priced) {
            updated[PortfolioRisk.MARKET_HAS_VECTOR] = 0x01;
            writeVector(updated, v);
        } else {
            assembly ("memory-safe") {
                mstore(updated, 91) // no vector
            }
        }
    }

    /// @dev A perpetual: the funding premium of its last price against the new index
    /// (capped), funding accrued for the time since the previous update, the vector at
    /// mark = index + premium.
    function perpetual(bytes memory updated, UnderlyingConfig storage c, Update memory u)
        internal
        view
        returns (bool priced, OptionPricer.Vector memory v)
    {
        int256 index = int256(uint256(u.state.index));
        int256 last = int256(PortfolioRisk.readUint(updated, 82, 8));
        int256 premium;
        if (last != 0) {
            int256 cap = index * int256(uint256(c.fundingPremiumCapPpm)) / 1_000_000;
            int256 gap = last - index;
            gap = gap > cap ? cap : (gap < -cap ? -cap : gap);
            // `as i64`, as the STF casts it.
            // forge-lint: disable-next-line(unsafe-typecast)
            premium = int256(int64(gap * 1_000));
        }
        int256 mark = index + premium / 1_000;
        if (mark < 1) mark = 1;
        if (u.elapsedMs > 0) {
            int256 accrued = PortfolioRisk.floorDiv(premium * int256(uint256(u.elapsedMs)), FUNDING_PERIOD_MS);
            int256 fundingIndex = PortfolioRisk.signed(updated, PortfolioRisk.MARKET_FUNDING_INDEX, 16) + accrued;
            writeInt(updated, PortfolioRisk.MARKET_FUNDING_INDEX, 16, fundingIndex);
        }
        // `as u64`, as the STF casts it.
        // forge-lint: disable-next-line(unsafe-typecast)
        return pricer.perpetualVector(uint64(uint256(mark)), c.risk);
    }

    /// @dev An option before expiry: its side of the strike's vectors from the expiry's
    /// smile (none without a smile or when the pricer refuses).
    function option(bytes memory market, UnderlyingConfig storage c, Update memory u, uint8 kind, uint64 timestampMs)
        internal
        view
        returns (bool priced, OptionPricer.Vector memory v)
    {
        (bool found, OptionPricer.Strike memory strike) = strikeOf(market, u.state, timestampMs);
        if (!found) return (false, v);
        OptionPricer.Vector memory call;
        OptionPricer.Vector memory put;
        (priced, call, put) = pricer.strikeVectors(strike, c.risk);
        return (priced, kind == 1 ? call : put);
    }

    /// @dev The pricer's arguments for the option `market`: its strike and expiry, the
    /// new index and its expiry's smile (not found without one).
    function strikeOf(bytes memory market, OracleState memory state, uint64 timestampMs)
        internal
        pure
        returns (bool found, OptionPricer.Strike memory strike)
    {
        uint256 expiry = PortfolioRisk.readUint(market, 17, 8);
        for (uint256 i = 0; i < state.smiles.length; i++) {
            uint256 smile = state.smiles[i];
            if (smile >> 96 != expiry) continue;
            strike = OptionPricer.Strike({
                strikeMicroUsdc: uint64(PortfolioRisk.readUint(market, 9, 8)),
                // The smile's and the market's fields are read at their widths: each cast is exact.
                // forge-lint: disable-next-line(unsafe-typecast)
                expiryMs: uint64(expiry),
                indexMicroUsdc: state.index,
                // forge-lint: disable-next-line(unsafe-typecast)
                atmVolPpm: uint32(smile >> 64),
                // forge-lint: disable-next-line(unsafe-typecast)
                skewPpm: int32(uint32(smile >> 32)),
                // forge-lint: disable-next-line(unsafe-typecast)
                curvaturePpm: uint32(smile),
                nowMs: timestampMs
            });
            return (true, strike);
        }
    }

    /// @dev An expired option: settled at the mean of the window's values stamped at or
    /// before expiry and at most five minutes before it (`settle_expiry`); without one it
    /// stays active (and unpriced).
    function settleExpiry(bytes memory updated, uint8 kind, uint256 expiry, OracleState memory state)
        internal
        pure
        returns (bool)
    {
        uint256 sum;
        uint256 count;
        for (uint256 i = 0; i < state.recent.length; i++) {
            uint256 stamped = state.recent[i] >> 64;
            if (stamped <= expiry && stamped + SETTLEMENT_LOOKBACK_MS >= expiry) {
                sum += uint64(state.recent[i]);
                count++;
            }
        }
        if (count == 0) return false;
        uint256 settlement = sum / count;
        uint256 strike = PortfolioRisk.readUint(updated, 9, 8);
        uint256 value;
        if (kind == 1) value = settlement > strike ? settlement - strike : 0;
        else value = strike > settlement ? strike - settlement : 0;
        updated[49] = 0x01;
        // The payout is at most the strike or the settlement price, both u64.
        // forge-lint: disable-next-line(unsafe-typecast)
        writeInt(updated, 50, 8, int256(value));
        return true;
    }

    /// @dev The vector's 36 i64 after the flag: mark, delta, gamma, vega, theta, sigma,
    /// short charge, 29 scenario P&Ls.
    function writeVector(bytes memory updated, OptionPricer.Vector memory v) internal pure {
        int256[7] memory head = [v.mark, v.delta, v.gamma, v.vega, v.theta, v.sigmaPpm, v.shortCharge];
        for (uint256 i = 0; i < 7; i++) {
            writeInt(updated, PortfolioRisk.VECTOR_MARK + 8 * i, 8, head[i]);
        }
        for (uint256 i = 0; i < PortfolioRisk.SCENARIO_COUNT; i++) {
            writeInt(updated, PortfolioRisk.VECTOR_SCENARIOS + 8 * i, 8, v.pnl[i]);
        }
    }

    /// @dev Writes the low `width` bytes of `value` (two's complement) big-endian at `at`.
    /// (width ≤ 31; one masked word write: the bytes around it are written back as read).
    function writeInt(bytes memory out, uint256 at, uint256 width, int256 value) internal pure {
        require(at + width <= out.length && width < 32);
        assembly {
            let p := add(add(out, 32), at)
            let shift := sub(256, shl(3, width))
            let mask := shl(shift, sub(shl(shl(3, width), 1), 1))
            mstore(p, or(and(mload(p), not(mask)), and(shl(shift, value), mask)))
        }
    }

    // ---------------------------------------------------------------- aggregation

    /// @dev Whether `transaction` decodes as an oracle update (`0x10 ‖ underlying u32 ‖
    /// count u8 ‖ report × count`, a report `underlying u32 ‖ timestampMs u64 ‖ index u64 ‖
    /// n u8 ‖ (expiry u64 ‖ atmVol u32 ‖ skew i32 ‖ curvature u32) × n ‖ r ‖ s ‖ v`, at most
    /// 16 reports of at most 8 expiries, v in {0, 1, 27, 28}), and its underlying.
    function decodeUpdate(bytes calldata transaction) internal pure returns (bool, uint32) {
        if (transaction.length < 6 || uint8(transaction[0]) != KIND_ORACLE_UPDATE) return (false, 0);
        uint256 count = uint8(transaction[5]);
        if (count > REPORTS_MAX) return (false, 0);
        uint256 at = 6;
        for (uint256 i = 0; i < count; i++) {
            if (at + REPORT_HEADER_BYTES > transaction.length) return (false, 0);
            uint256 n = uint8(transaction[at + 20]);
            uint256 end = at + REPORT_HEADER_BYTES + REPORT_EXPIRY_BYTES * n + SIGNATURE_BYTES;
            if (n > REPORT_EXPIRIES_MAX || end > transaction.length) return (false, 0);
            uint8 v = uint8(transaction[end - 1]);
            if (v != 0 && v != 1 && v != 27 && v != 28) return (false, 0);
            at = end;
        }
        return (at == transaction.length, uint32(bytes4(transaction[1:5])));
    }

    /// @dev `aggregate` of the transaction's reports against the oracle state in the
    /// underlying's leaf `value`: refused below the quorum of valid reports; else the
    /// lower medians of index and time (the index clamped to the move bound), the window
    /// and the smiles. Also the time since the previous update (0 before the first).
    function aggregate(uint32 underlying, bytes memory value, bytes calldata transaction, uint64 timestampMs)
        internal
        view
        returns (Update memory u)
    {
        UnderlyingConfig storage c = configs[underlying];
        if (c.quorum == 0) revert UnknownUnderlying(underlying);
        OracleState memory previous;
        (previous, u.listAt) = stateOf(value);
        Valid memory valid = validReports(c, previous, transaction, timestampMs);
        if (valid.count < c.quorum) return u;
        u.accepted = true;
        uint64 median = uint64(lowerMedian(valid.indexes, valid.count));
        u.state.timestampMs = uint64(lowerMedian(valid.timestamps, valid.count));
        u.state.index = clampMove(previous.index, median, c.movePpmMax);
        uint256 kept =
            previous.recent.length < SETTLEMENT_WINDOW_LEN ? previous.recent.length : SETTLEMENT_WINDOW_LEN - 1;
        u.state.recent = new uint256[](kept + 1);
        for (uint256 i = 0; i < kept; i++) {
            u.state.recent[i] = previous.recent[previous.recent.length - kept + i];
        }
        u.state.recent[kept] = (uint256(u.state.timestampMs) << 64) | u.state.index;
        u.state.smiles = updatedSmiles(previous.smiles, transaction, valid, c.quorum, timestampMs);
        if (previous.index != 0 && u.state.timestampMs > previous.timestampMs) {
            u.elapsedMs = u.state.timestampMs - previous.timestampMs;
        }
    }

    /// @dev The reports that pass `check_report` in order (a signer counts once: its
    /// first valid report).
    function validReports(
        UnderlyingConfig storage c,
        OracleState memory previous,
        bytes calldata transaction,
        uint64 timestampMs
    ) internal view returns (Valid memory valid) {
        uint256 count = uint8(transaction[5]);
        valid.indexes = new uint256[](count);
        valid.timestamps = new uint256[](count);
        valid.offsets = new uint256[](count);
        address[] memory seen = new address[](count);
        Rules memory rules = Rules({
            id: c.id,
            signers: c.signers,
            oldest: timestampMs > c.stalenessMsMax ? timestampMs - c.stalenessMsMax : 0,
            newest: uint256(timestampMs) + REPORT_FUTURE_MS_MAX,
            after_: previous.index == 0 ? 0 : uint256(previous.timestampMs) + 1
        });
        uint256 at = 6;
        for (uint256 i = 0; i < count; i++) {
            address signer = signerOf(rules, transaction, at);
            if (signer != address(0) && !contains(seen, valid.count, signer)) {
                seen[valid.count] = signer;
                valid.timestamps[valid.count] = field(transaction, at + 4, 8);
                valid.indexes[valid.count] = field(transaction, at + 12, 8);
                valid.offsets[valid.count] = at;
                valid.count++;
            }
            at += REPORT_HEADER_BYTES + REPORT_EXPIRY_BYTES * field(transaction, at + 20, 1) + SIGNATURE_BYTES;
        }
    }

    /// @dev What a report is checked against: the underlying, its signers, and the oldest,
    /// newest and earliest-newer times a report may carry.
    struct Rules {
        uint32 id;
        address[] signers;
        uint256 oldest;
        uint256 newest;
        uint256 after_;
    }

    /// @dev The configured signer of the report at `at` if it passes every check of
    /// `check_report` but the one for a repeated signer; else zero.
    function signerOf(Rules memory rules, bytes calldata transaction, uint256 at)
        internal
        view
        returns (address signer)
    {
        uint256 n = field(transaction, at + 20, 1);
        uint256 stamped = field(transaction, at + 4, 8);
        bool ok = field(transaction, at, 4) == rules.id && stamped >= rules.oldest && stamped <= rules.newest
            && stamped >= rules.after_ && field(transaction, at + 12, 8) != 0 && volsInBounds(transaction, at, n);
        if (!ok) return address(0);
        uint256 end = at + REPORT_HEADER_BYTES + REPORT_EXPIRY_BYTES * n;
        signer = recoverStrict(digest(reportHash(transaction, at, n)), transaction[end:end + SIGNATURE_BYTES]);
        if (!contains(rules.signers, rules.signers.length, signer)) return address(0);
    }

    function volsInBounds(bytes calldata transaction, uint256 at, uint256 n) internal pure returns (bool) {
        for (uint256 k = 0; k < n; k++) {
            uint256 vol = field(transaction, at + REPORT_HEADER_BYTES + REPORT_EXPIRY_BYTES * k + 8, 4);
            if (vol < ATM_VOL_PPM_MIN || vol > ATM_VOL_PPM_MAX) return false;
        }
        return true;
    }

    /// @dev The big-endian unsigned integer of `width` bytes (1 to 32) at `at` of `data`
    /// (read past the end as zeros; `decodeUpdate` checked the layout).
    function field(bytes calldata data, uint256 at, uint256 width) internal pure returns (uint256 value) {
        assembly {
            value := shr(sub(256, shl(3, width)), calldataload(add(data.offset, at)))
        }
    }

    function contains(address[] memory list, uint256 length, address item) internal pure returns (bool) {
        for (uint256 i = 0; i < length; i++) {
            if (list[i] == item) return true;
        }
        return false;
    }

    /// @dev The report's EIP-712 struct hash (arrays hashed element by element, each a
    /// 32-byte word, the skews sign-extended).
    function reportHash(bytes calldata transaction, uint256 at, uint256 n) internal pure returns (bytes32) {
        // The four arrays' words side by side: expiries, volatilities, skews, curvatures.
        uint256[] memory words = new uint256[](4 * n);
        for (uint256 k = 0; k < n; k++) {
            uint256 e = at + REPORT_HEADER_BYTES + REPORT_EXPIRY_BYTES * k;
            words[k] = field(transaction, e, 8);
            words[n + k] = field(transaction, e + 8, 4);
            // Sign-extended, as EIP-712 encodes an int32.
            words[2 * n + k] = uint256(int256(int32(uint32(field(transaction, e + 12, 4)))));
            words[3 * n + k] = field(transaction, e + 16, 4);
        }
        bytes32[4] memory hashes;
        for (uint256 a = 0; a < 4; a++) {
            assembly ("memory-safe") {
                mstore(add(hashes, shl(5, a)), keccak256(add(add(words, 32), shl(5, mul(a, n))), shl(5, n)))
            }
        }
        return keccak256(
            abi.encode(
                PRICE_REPORT_TYPEHASH,
                field(transaction, at, 4),
                field(transaction, at + 4, 8),
                field(transaction, at + 12, 8),
                hashes[0],
                hashes[1],
                hashes[2],
                hashes[3]
            )
        );
    }

    /// @dev `clamp_move`: the proposed index within `previous · (1 ± move)`; no bound
    /// before the first update.
    function clampMove(uint64 previous, uint64 proposed, uint32 movePpmMax) internal pure returns (uint64) {
        if (previous == 0) return proposed;
        uint256 band = uint256(previous) * movePpmMax / 1_000_000;
        uint256 low = previous - band;
        uint256 high = previous + band;
        if (high > type(uint64).max) high = type(uint64).max;
        // Between the previous index (u64) and its band, capped at u64 max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        if (proposed < low) return uint64(low);
        // forge-lint: disable-next-line(unsafe-typecast)
        if (proposed > high) return uint64(high);
        return proposed;
    }

    /// @dev `update_smiles`: per expiry that at least `quorum` valid reports carry (an
    /// expiry twice in one report counts twice) and that is still ahead, the lower median
    /// of each parameter replaces the stored smile; expired smiles go; the 16 nearest stay.
    function updatedSmiles(
        uint256[] memory previous,
        bytes calldata transaction,
        Valid memory valid,
        uint256 quorum,
        uint64 timestampMs
    ) internal pure returns (uint256[] memory) {
        return merge(previous, freshSmiles(transaction, valid, quorum, timestampMs), timestampMs);
    }

    /// @dev The smiles of the expiries carried by at least `quorum` valid reports and
    /// still ahead, ascending.
    function freshSmiles(bytes calldata transaction, Valid memory valid, uint256 quorum, uint64 timestampMs)
        internal
        pure
        returns (uint256[] memory fresh)
    {
        uint256[] memory points = smilePoints(transaction, valid);
        sort(points, 0, points.length);
        fresh = new uint256[](points.length);
        uint256 count;
        uint256 start = 0;
        while (start < points.length) {
            uint256 expiry = points[start] >> 96;
            uint256 end = start + 1;
            while (end < points.length && points[end] >> 96 == expiry) end++;
            if (end - start >= quorum && expiry > timestampMs) fresh[count++] = smileOf(points, start, end);
            start = end;
        }
        assembly ("memory-safe") {
            mstore(fresh, count)
        }
    }

    /// @dev The stored smiles with the fresh ones put in (replacing the same expiry's),
    /// those no longer ahead dropped, the 16 nearest kept.
    function merge(uint256[] memory previous, uint256[] memory fresh, uint64 timestampMs)
        internal
        pure
        returns (uint256[] memory merged)
    {
        merged = new uint256[](SMILES_MAX);
        uint256 count;
        (uint256 i, uint256 j) = (0, 0);
        while (count < SMILES_MAX && (i < previous.length || j < fresh.length)) {
            uint256 pick;
            if (j == fresh.length || (i < previous.length && previous[i] >> 96 < fresh[j] >> 96)) {
                pick = previous[i++];
            } else {
                if (i < previous.length && previous[i] >> 96 == fresh[j] >> 96) i++;
                pick = fresh[j++];
            }
            if (pick >> 96 > timestampMs) merged[count++] = pick;
        }
        assembly ("memory-safe") {
            mstore(merged, count)
        }
    }

    /// @dev Every (expiry, smile) of the valid reports, packed as the state's smiles.
    function smilePoints(bytes calldata transaction, Valid memory valid)
        internal
        pure
        returns (uint256[] memory points)
    {
        uint256 total;
        for (uint256 r = 0; r < valid.count; r++) {
            total += field(transaction, valid.offsets[r] + 20, 1);
        }
        points = new uint256[](total);
        uint256 next;
        for (uint256 r = 0; r < valid.count; r++) {
            uint256 at = valid.offsets[r];
            uint256 n = field(transaction, at + 20, 1);
            for (uint256 k = 0; k < n; k++) {
                points[next++] = field(transaction, at + REPORT_HEADER_BYTES + REPORT_EXPIRY_BYTES * k, 20);
            }
        }
    }

    /// @dev The lower medians of one expiry's points `[start, end)`.
    function smileOf(uint256[] memory points, uint256 start, uint256 end) internal pure returns (uint256) {
        uint256 n = end - start;
        uint256[] memory vols = new uint256[](n);
        uint256[] memory skews = new uint256[](n);
        uint256[] memory curvatures = new uint256[](n);
        for (uint256 k = 0; k < n; k++) {
            uint256 p = points[start + k];
            // Fields of a packed smile, each read at its width.
            // forge-lint: disable-next-line(unsafe-typecast)
            vols[k] = uint32(p >> 64);
            // Offset so that unsigned order is the signed order.
            // forge-lint: disable-next-line(unsafe-typecast)
            skews[k] = uint256(int256(int32(uint32(p >> 32))) + 2 ** 31);
            // forge-lint: disable-next-line(unsafe-typecast)
            curvatures[k] = uint32(p);
        }
        uint256 skew = uint256(int256(lowerMedian(skews, n)) - 2 ** 31);
        // The skew's offset median is a u32 again.
        // forge-lint: disable-next-line(unsafe-typecast)
        return (points[start] >> 96 << 96) | (lowerMedian(vols, n) << 64) | (uint256(uint32(skew)) << 32)
            | lowerMedian(curvatures, n);
    }

    /// @dev The lower median of `values[0, n)` (n > 0); sorts them.
    function lowerMedian(uint256[] memory values, uint256 n) internal pure returns (uint256) {
        sort(values, 0, n);
        return values[(n - 1) / 2];
    }

    /// @dev Sorts `values[lo, hi)` ascending (insertion sort below 12, else quicksort
    /// with Hoare's partition), in assembly: indexing and bounds checks cost several
    /// times the comparisons in Solidity.
    function sort(uint256[] memory values, uint256 lo, uint256 hi) internal pure {
        assembly ("memory-safe") {
            function slot(array, i) -> p {
                p := add(add(array, 32), shl(5, i))
            }
            function quicksort(array, l, h) {
                for {} gt(sub(h, l), 12) {} {
                    let pivot := mload(slot(array, add(l, shr(1, sub(h, l)))))
                    let i := l
                    let j := sub(h, 1)
                    for {} 1 {} {
                        for {} lt(mload(slot(array, i)), pivot) {} { i := add(i, 1) }
                        for {} gt(mload(slot(array, j)), pivot) {} { j := sub(j, 1) }
                        if iszero(lt(i, j)) { break }
                        let pi := slot(array, i)
                        let pj := slot(array, j)
                        let t := mload(pi)
                        mstore(pi, mload(pj))
                        mstore(pj, t)
                        i := add(i, 1)
                        j := sub(j, 1)
                    }
                    quicksort(array, l, add(j, 1))
                    l := add(j, 1)
                }
                for { let i := add(l, 1) } lt(i, h) { i := add(i, 1) } {
                    let v := mload(slot(array, i))
                    let k := i
                    for {} gt(k, l) {} {
                        let before := mload(slot(array, sub(k, 1)))
                        if iszero(gt(before, v)) { break }
                        mstore(slot(array, k), before)
                        k := sub(k, 1)
                    }
                    mstore(slot(array, k), v)
                }
            }
            quicksort(values, lo, hi)
        }
    }

    // ---------------------------------------------------------------- the leaf

    function oracleKey(uint32 underlying) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x06), underlying);
    }

    /// @dev The oracle state of an underlying's leaf and where its active markets start.
    function stateOf(bytes memory value) internal pure returns (OracleState memory s, uint256 listAt) {
        uint256 recentAt;
        uint256 recent;
        (listAt, recentAt, recent,) = listOf(value);
        s.index = uint64(PortfolioRisk.readUint(value, 0, 8));
        s.timestampMs = uint64(PortfolioRisk.readUint(value, 8, 8));
        uint256 smiles = uint8(value[16]);
        s.smiles = new uint256[](smiles);
        for (uint256 i = 0; i < smiles; i++) {
            s.smiles[i] = PortfolioRisk.readUint(value, 17 + 20 * i, 20);
        }
        s.recent = new uint256[](recent);
        for (uint256 i = 0; i < recent; i++) {
            s.recent[i] = PortfolioRisk.readUint(value, recentAt + 16 * i, 16);
        }
    }

    /// @dev Where the leaf's active markets (count, then ids) and recent values are.
    function listOf(bytes memory value)
        internal
        pure
        returns (uint256 listAt, uint256 recentAt, uint256 recent, uint256 active)
    {
        (recentAt, recent, listAt, active) = oracleLayout(value);
    }

    /// @dev The leaf with the update's oracle state and the active markets of `value`.
    function encodeOracle(Update memory u, bytes memory value) internal pure returns (bytes memory out) {
        OracleState memory s = u.state;
        uint256 head = 17 + 20 * s.smiles.length + 1 + 16 * s.recent.length;
        uint256 list = value.length - u.listAt;
        out = new bytes(head + list);
        writeInt(out, 0, 8, int256(uint256(s.index)));
        writeInt(out, 8, 8, int256(uint256(s.timestampMs)));
        out[16] = bytes1(uint8(s.smiles.length));
        for (uint256 i = 0; i < s.smiles.length; i++) {
            writeInt(out, 17 + 20 * i, 20, int256(s.smiles[i]));
        }
        uint256 at = 17 + 20 * s.smiles.length;
        out[at] = bytes1(uint8(s.recent.length));
        for (uint256 i = 0; i < s.recent.length; i++) {
            writeInt(out, at + 1 + 16 * i, 16, int256(s.recent[i]));
        }
        copy(out, head, value, u.listAt, list);
    }
}
