// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title CanonicalForm
/// @notice Whether bytes are a Straddle transaction in its canonical form
/// (docs/spec/transactions.md): what `Transaction::decode` accepts and `encode` gives back
/// byte for byte — every length and count within its bound, booleans 0 or 1, recovery
/// bytes 27 or 28, no trailing bytes — and whether such a transaction has a compact form
/// in a batch (`compactable` in crates/batch). The batch opener uses both to tell a
/// transaction from an undecodable item (docs/spec/batches.md §4.1).
/// @dev Only the structure is checked: signatures are the execution's question.
library CanonicalForm {
    uint256 internal constant TRANSACTION_BYTES_MAX = 8192;
    uint256 internal constant SIGNATURE = 65;
    uint256 internal constant BODY = 47;
    uint256 internal constant SIGNED_ORDER = BODY + SIGNATURE;
    uint256 internal constant ACTION_BYTES = 118;
    uint256 internal constant MAKERS_MAX = 16;
    uint256 internal constant REPORTS_MAX = 16;
    uint256 internal constant REPORT_EXPIRIES_MAX = 8;
    uint256 internal constant BULK_CANCEL_MAX = 64;
    uint256 internal constant BULK_ORDERS_MAX = 32;
    uint256 internal constant BULK_ORDERS_CANCELS_MAX = 32;
    uint256 internal constant FORCED_BYTES_MAX = 2048;
    /// @dev A forced transaction's header: kind ‖ index u64 ‖ sender ‖ length u32.
    uint256 internal constant FORCED_HEADER = 33;

    /// @notice Whether `t` is a transaction's canonical bytes.
    function isCanonical(bytes memory t) internal pure returns (bool) {
        uint256 len = t.length;
        if (len == 0 || len > TRANSACTION_BYTES_MAX) return false;
        uint256 kind = uint8(t[0]);
        if (kind >= 1 && kind <= 5) {
            // kind ‖ address ‖ amount u128 ‖ nonce u64 ‖ expiry u64 ‖ signature; margin
            // moves name no address.
            return len == ACTION_BYTES && signatureAt(t, 53) && (kind < 4 || word(t, 1) >> 96 == 0);
        }
        if (kind == 0x10) return oracleUpdate(t);
        if (kind == 0x11 || kind == 0x17) return matchOf(t, kind);
        if (kind == 0x12) return len == 114 && signatureAt(t, 49);
        if (kind == 0x13) return len == 114 && signatureAt(t, 49);
        if (kind == 0x14 || kind == 0x1B) return len == 53;
        if (kind == 0x15) {
            uint256 n = byteAt(t, 1);
            return n <= BULK_CANCEL_MAX && len == 2 + 32 * n + 16 + SIGNATURE && signatureAt(t, 2 + 32 * n + 16);
        }
        if (kind == 0x16) return placeOrders(t);
        if (kind == 0x18) return len == 131 && signatureAt(t, 66);
        if (kind == 0x19) return len == 86 && signatureAt(t, 21);
        if (kind == 0x1A) return len == 1 + SIGNED_ORDER && bodyAt(t, 1) && signatureAt(t, 1 + BODY);
        if (kind == 0x1C) return len == 65;
        if (kind == 0x1D) {
            if (len < FORCED_HEADER) return false;
            uint256 payload = word(t, 29) >> 224;
            return payload >= 1 && payload <= FORCED_BYTES_MAX && len == FORCED_HEADER + payload;
        }
        return kind == 0xFE && len == 1;
    }

    /// @notice Whether canonical `t` has a compact form in a batch (then a batch must
    /// carry it compactly): every signature's `s` fits 255 bits and every order's time in
    /// force fits 6 bits; deposits and retirements always.
    function isCompactable(bytes memory t) internal pure returns (bool) {
        uint256 kind = uint8(t[0]);
        if (kind >= 1 && kind <= 5) return sFits(t, 53);
        if (kind == 0x12) return sFits(t, 49);
        if (kind == 0x15) return sFits(t, 2 + 32 * byteAt(t, 1) + 16);
        if (kind == 0x1A) return orderFits(t, 1, true);
        if (kind == 0x1B || kind == 0x1C) return true;
        if (kind == 0x11 || kind == 0x17) {
            if (!orderFits(t, 1, true)) return false;
            uint256 n = byteAt(t, 1 + SIGNED_ORDER);
            uint256 maker = kind == 0x11 ? SIGNED_ORDER + 8 : BODY + 20 + 8;
            for (uint256 i = 0; i < n; i++) {
                if (!orderFits(t, 2 + SIGNED_ORDER + i * maker, kind == 0x11)) return false;
            }
            return true;
        }
        if (kind == 0x16) {
            uint256 c = byteAt(t, 1);
            uint256 n = byteAt(t, 2 + 32 * c);
            uint256 bodies = 3 + 32 * c;
            for (uint256 i = 0; i < n; i++) {
                if (!orderFits(t, bodies + i * BODY, false)) return false;
            }
            return sFits(t, bodies + n * BODY + 16);
        }
        return false;
    }

    /// @dev kind ‖ underlying u32 ‖ count u8 ‖ (underlying u32 ‖ time u64 ‖ index u64 ‖
    /// n u8 ‖ (expiry u64 ‖ vol u32 ‖ skew u32 ‖ curvature u32) × n ‖ signature) × count.
    function oracleUpdate(bytes memory t) private pure returns (bool) {
        if (t.length < 6) return false;
        uint256 count = byteAt(t, 5);
        if (count > REPORTS_MAX) return false;
        uint256 at = 6;
        for (uint256 i = 0; i < count; i++) {
            if (t.length < at + 21) return false;
            uint256 n = byteAt(t, at + 20);
            if (n > REPORT_EXPIRIES_MAX) return false;
            at += 21 + 20 * n;
            if (t.length < at + SIGNATURE || !signatureAt(t, at)) return false;
            at += SIGNATURE;
        }
        return t.length == at;
    }

    /// @dev kind ‖ taker (body ‖ signature) ‖ n u8 ‖ makers: (body ‖ signature ‖ fill u64)
    /// for 0x11, (body ‖ owner ‖ fill u64) for 0x17.
    function matchOf(bytes memory t, uint256 kind) private pure returns (bool) {
        if (t.length < 2 + SIGNED_ORDER) return false;
        if (!bodyAt(t, 1) || !signatureAt(t, 1 + BODY)) return false;
        uint256 n = byteAt(t, 1 + SIGNED_ORDER);
        uint256 maker = kind == 0x11 ? SIGNED_ORDER + 8 : BODY + 20 + 8;
        if (n > MAKERS_MAX || t.length != 2 + SIGNED_ORDER + n * maker) return false;
        for (uint256 i = 0; i < n; i++) {
            uint256 at = 2 + SIGNED_ORDER + i * maker;
            if (!bodyAt(t, at) || (kind == 0x11 && !signatureAt(t, at + BODY))) return false;
        }
        return true;
    }

    /// @dev kind ‖ c u8 ‖ hash × c ‖ n u8 ‖ body × n ‖ nonce u64 ‖ expiry u64 ‖ signature.
    function placeOrders(bytes memory t) private pure returns (bool) {
        if (t.length < 2) return false;
        uint256 c = byteAt(t, 1);
        if (c > BULK_ORDERS_CANCELS_MAX || t.length < 3 + 32 * c) return false;
        uint256 n = byteAt(t, 2 + 32 * c);
        uint256 bodies = 3 + 32 * c;
        if (n > BULK_ORDERS_MAX || t.length != bodies + n * BODY + 16 + SIGNATURE) return false;
        for (uint256 i = 0; i < n; i++) {
            if (!bodyAt(t, bodies + i * BODY)) return false;
        }
        return signatureAt(t, bodies + n * BODY + 16);
    }

    /// @dev An order body at `at` (market u32 ‖ isBuy ‖ limitPrice u64 ‖ size u64 ‖
    /// timeInForce u8 ‖ reduceOnly ‖ …): its two booleans are 0 or 1.
    function bodyAt(bytes memory t, uint256 at) private pure returns (bool) {
        return byteAt(t, at + 4) <= 1 && byteAt(t, at + 22) <= 1;
    }

    /// @dev A signature `r ‖ s ‖ v` at `at` whose `v` is 27 or 28.
    function signatureAt(bytes memory t, uint256 at) private pure returns (bool) {
        uint256 v = byteAt(t, at + 64);
        return v == 27 || v == 28;
    }

    /// @dev Whether the signature at `at` has `s` below 2²⁵⁵ (its parity folds into the top bit).
    function sFits(bytes memory t, uint256 at) private pure returns (bool) {
        return byteAt(t, at + 32) < 0x80;
    }

    /// @dev Whether the order at `at` has a compact form: time in force below 64, and its
    /// signature (`signed`) fits.
    function orderFits(bytes memory t, uint256 at, bool signed) private pure returns (bool) {
        return byteAt(t, at + 21) < 64 && (!signed || sFits(t, at + BODY));
    }

    function byteAt(bytes memory t, uint256 at) private pure returns (uint256) {
        return uint8(t[at]);
    }

    /// @dev The 32 bytes of `t` from `at` (zero past its end).
    function word(bytes memory t, uint256 at) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(t, 32), at))
        }
    }
}
