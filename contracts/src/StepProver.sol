// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStepProver} from "./DisputeGame.sol";
import {StateProof} from "./StateProof.sol";

/// @title StepProver
/// @notice The one-step prover: re-executes one Straddle transaction exactly as the Rust
/// STF does (crates/exchange, the ledger's rules) and returns the state root after it.
/// Covered kinds: deposits (0x1C), transfers (1) and withdrawals (2); any other kind
/// reverts with `UnsupportedKind` (docs/spec/disputes.md §4 lists what is left). A
/// transaction the STF refuses changes nothing, so its post-state root is the pre-state
/// root; bytes that do not decode are refused the same way.
/// @dev The witness is `abi.encode(Leaf[])`: the leaves the kind reads, in the order this
/// contract writes them (deposit: recipient's account, totals; transfer: sender's account,
/// then the recipient's unless it is the sender; withdrawal: sender's account, the new
/// withdrawal record, totals), each with its current value and a proof. When the
/// transaction changes the state each proof is against the root after the leaves before
/// it were written; when it is refused every proof is against the pre-state root. A
/// transfer or withdrawal whose signature does not recover needs no leaves.
contract StepProver is IStepProver {
    /// @notice One leaf the transaction reads: its value (empty when absent) and a proof.
    struct Leaf {
        bool present;
        bytes value;
        bytes32[] siblings;
        StateProof.Terminal terminal;
    }

    /// @notice An account leaf (`0x01 ‖ address`).
    struct Account {
        uint128 collateral;
        uint64[] nonces;
    }

    /// @notice The ledger totals leaf (`0x03`).
    struct Totals {
        uint128 genesisSupply;
        uint128 minted;
        uint128 withdrawn;
        uint64 withdrawalCount;
        uint128 deposited;
        uint64 depositCount;
        bytes32 depositAccumulator;
    }

    /// @notice A transaction kind the prover does not cover yet.
    error UnsupportedKind(uint8 kind);
    /// @notice The witness has another number of leaves than the kind reads.
    error WrongLeafCount(uint256 given, uint256 needed);
    /// @notice A leaf's claimed value does not match its proof's terminal.
    error LeafMismatch(uint256 leaf);
    /// @notice A stored leaf value does not decode (the state is not Straddle's).
    error BadLeafValue(uint256 leaf);

    uint8 internal constant KIND_TRANSFER = 1;
    uint8 internal constant KIND_WITHDRAW = 2;
    uint8 internal constant KIND_DEPOSIT = 0x1C;
    uint256 internal constant ACTION_BYTES = 118;
    uint256 internal constant DEPOSIT_BYTES = 65;
    /// @notice Nonces an account remembers (crates/exchange NONCE_WINDOW_LEN).
    uint256 internal constant NONCE_WINDOW_LEN = 32;
    /// @notice Largest total collateral supply (crates/exchange COLLATERAL_SUPPLY_MAX).
    uint256 internal constant COLLATERAL_SUPPLY_MAX = 100_000_000_000_000_000_000;
    uint256 internal constant CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant HALF_CURVE_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    bytes32 internal constant TRANSFER_TYPEHASH =
        keccak256("Transfer(address to,uint128 amount,uint64 nonce,uint64 expiryMs)");
    bytes32 internal constant WITHDRAW_TYPEHASH =
        keccak256("Withdraw(address recipient,uint128 amount,uint64 nonce,uint64 expiryMs)");

    /// @notice EIP-712 domain separator of the L2's signed actions.
    bytes32 public immutable domainSeparator;

    /// @param chainId The L2 chain id of the signing domain.
    /// @param verifyingContract The signing domain's verifying contract.
    constructor(uint64 chainId, address verifyingContract) {
        domainSeparator = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Straddle"),
                keccak256("1"),
                uint256(chainId),
                verifyingContract
            )
        );
    }

    /// @inheritdoc IStepProver
    function execute(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        bytes calldata witness
    ) external view returns (bytes32) {
        if (transaction.length == 0) return preRoot;
        uint8 kind = uint8(transaction[0]);
        if (kind == KIND_DEPOSIT) return deposit(preRoot, transaction, leavesOf(witness));
        if (kind == KIND_TRANSFER || kind == KIND_WITHDRAW) {
            return action(preRoot, blockNumber, timestampMs, transaction, witness);
        }
        revert UnsupportedKind(kind);
    }

    // ---------------------------------------------------------------- deposits

    /// @dev kind ‖ index u64 ‖ from ‖ recipient ‖ amount u128.
    struct Deposit {
        uint64 index;
        address from;
        address recipient;
        uint128 amount;
    }

    function deposit(bytes32 preRoot, bytes calldata transaction, Leaf[] memory leaves)
        internal
        pure
        returns (bytes32)
    {
        if (transaction.length != DEPOSIT_BYTES) return preRoot;
        Deposit memory d = Deposit({
            index: uint64(bytes8(transaction[1:9])),
            from: address(bytes20(transaction[9:29])),
            recipient: address(bytes20(transaction[29:49])),
            amount: uint128(bytes16(transaction[49:65]))
        });
        requireCount(leaves, 2);
        Account memory account = accountOf(leaves[0], 0);
        Totals memory totals = totalsOf(leaves[1], 1);
        uint256 deposited = uint256(totals.deposited) + d.amount;
        uint256 balance = uint256(account.collateral) + d.amount;
        if (
            d.index != totals.depositCount || d.amount == 0 || deposited > type(uint128).max
                || uint256(totals.genesisSupply) + totals.minted + deposited > COLLATERAL_SUPPLY_MAX
                || balance > type(uint128).max
        ) {
            return unchanged(preRoot, leaves, keysOfDeposit(d.recipient));
        }
        // Checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        account.collateral = uint128(balance);
        // Checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        totals.deposited = uint128(deposited);
        totals.depositCount += 1;
        bytes32 depositHash = keccak256(abi.encode(d.index, d.from, d.recipient, uint256(d.amount)));
        totals.depositAccumulator = keccak256(abi.encodePacked(totals.depositAccumulator, depositHash));
        bytes32 root = write(preRoot, accountKey(d.recipient), leaves[0], 0, encodeAccount(account));
        return write(root, hex"03", leaves[1], 1, encodeTotals(totals));
    }

    function keysOfDeposit(address recipient) internal pure returns (bytes[] memory keys) {
        keys = new bytes[](2);
        keys[0] = accountKey(recipient);
        keys[1] = hex"03";
    }

    // ---------------------------------------------------------------- actions

    /// @dev Transfer and withdrawal share their layout: kind ‖ address ‖ amount u128 ‖
    /// nonce u64 ‖ expiryMs u64 ‖ r ‖ s ‖ v.
    struct Action {
        uint8 kind;
        address target;
        uint128 amount;
        uint64 nonce;
        uint64 expiryMs;
    }

    function action(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        bytes calldata transaction,
        bytes calldata witness
    ) internal view returns (bytes32) {
        if (transaction.length != ACTION_BYTES) return preRoot;
        Action memory a = Action({
            kind: uint8(transaction[0]),
            target: address(bytes20(transaction[1:21])),
            amount: uint128(bytes16(transaction[21:37])),
            nonce: uint64(bytes8(transaction[37:45])),
            expiryMs: uint64(bytes8(transaction[45:53]))
        });
        address sender = recoverStrict(digestOf(a), transaction[53:118]);
        // A signature that does not parse or recover: refused before any leaf is read.
        if (sender == address(0)) return preRoot;
        Leaf[] memory leaves = leavesOf(witness);
        return a.kind == KIND_TRANSFER
            ? transfer(preRoot, timestampMs, a, sender, leaves)
            : withdraw(preRoot, blockNumber, timestampMs, a, sender, leaves);
    }

    function transfer(bytes32 preRoot, uint64 timestampMs, Action memory a, address sender, Leaf[] memory leaves)
        internal
        pure
        returns (bytes32)
    {
        bool toSelf = a.target == sender;
        requireCount(leaves, toSelf ? 1 : 2);
        bytes[] memory keys = new bytes[](leaves.length);
        keys[0] = accountKey(sender);
        if (!toSelf) keys[1] = accountKey(a.target);
        Account memory account = accountOf(leaves[0], 0);
        (bool ok, uint256 slot) = nonceSlot(account.nonces, a.nonce);
        if (!ok || timestampMs > a.expiryMs || a.amount == 0 || account.collateral < a.amount) {
            return unchanged(preRoot, leaves, keys);
        }
        uint128 debited = account.collateral - a.amount;
        account.nonces = insertNonce(account.nonces, slot, a.nonce);
        if (toSelf) {
            // Debited and credited again: only the nonce changes.
            return write(preRoot, keys[0], leaves[0], 0, encodeAccount(account));
        }
        Account memory recipient = accountOf(leaves[1], 1);
        uint256 credited = uint256(recipient.collateral) + a.amount;
        if (credited > type(uint128).max) return unchanged(preRoot, leaves, keys);
        account.collateral = debited;
        // Checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        recipient.collateral = uint128(credited);
        bytes32 root = write(preRoot, keys[0], leaves[0], 0, encodeAccount(account));
        return write(root, keys[1], leaves[1], 1, encodeAccount(recipient));
    }

    function withdraw(
        bytes32 preRoot,
        uint64 blockNumber,
        uint64 timestampMs,
        Action memory a,
        address sender,
        Leaf[] memory leaves
    ) internal pure returns (bytes32) {
        requireCount(leaves, 3);
        Account memory account = accountOf(leaves[0], 0);
        Totals memory totals = totalsOf(leaves[2], 2);
        bytes[] memory keys = new bytes[](3);
        keys[0] = accountKey(sender);
        keys[1] = withdrawalKey(totals.withdrawalCount);
        keys[2] = hex"03";
        (bool ok, uint256 slot) = nonceSlot(account.nonces, a.nonce);
        uint256 withdrawn = uint256(totals.withdrawn) + a.amount;
        if (
            !ok || timestampMs > a.expiryMs || a.amount == 0 || account.collateral < a.amount
                || withdrawn > type(uint128).max
        ) {
            return unchanged(preRoot, leaves, keys);
        }
        account.collateral -= a.amount;
        account.nonces = insertNonce(account.nonces, slot, a.nonce);
        // Checked against type(uint128).max above.
        // forge-lint: disable-next-line(unsafe-typecast)
        totals.withdrawn = uint128(withdrawn);
        totals.withdrawalCount += 1;
        bytes memory request = abi.encodePacked(sender, a.target, a.amount, blockNumber);
        bytes32 root = write(preRoot, keys[0], leaves[0], 0, encodeAccount(account));
        root = write(root, keys[1], leaves[1], 1, request);
        return write(root, keys[2], leaves[2], 2, encodeTotals(totals));
    }

    function digestOf(Action memory a) internal view returns (bytes32) {
        bytes32 typeHash = a.kind == KIND_TRANSFER ? TRANSFER_TYPEHASH : WITHDRAW_TYPEHASH;
        bytes32 structHash = keccak256(abi.encode(typeHash, a.target, a.amount, a.nonce, a.expiryMs));
        return keccak256(abi.encodePacked(hex"1901", domainSeparator, structHash));
    }

    /// @dev The signer of `digest`, or zero when the Rust STF would refuse the signature:
    /// v outside {0, 1, 27, 28}, r or s zero or not below the curve order, high s, or
    /// no recovery.
    function recoverStrict(bytes32 digest, bytes calldata signature) internal pure returns (address) {
        uint256 r = uint256(bytes32(signature[0:32]));
        uint256 s = uint256(bytes32(signature[32:64]));
        uint8 v = uint8(signature[64]);
        if (v < 27) v += 27;
        if (v != 27 && v != 28) return address(0);
        if (r == 0 || s == 0 || r >= CURVE_ORDER || s > HALF_CURVE_ORDER) return address(0);
        return ecrecover(digest, v, bytes32(r), bytes32(s));
    }

    /// @dev Where `nonce` goes in the ascending window; not ok when it was used or is
    /// below a full window.
    function nonceSlot(uint64[] memory window, uint64 nonce) internal pure returns (bool ok, uint256 slot) {
        while (slot < window.length && window[slot] < nonce) slot++;
        if (slot < window.length && window[slot] == nonce) return (false, slot);
        if (slot == 0 && window.length >= NONCE_WINDOW_LEN) return (false, slot);
        return (true, slot);
    }

    /// @dev The window with `nonce` inserted at `slot`, its lowest dropped past the limit.
    function insertNonce(uint64[] memory window, uint256 slot, uint64 nonce) internal pure returns (uint64[] memory) {
        uint64[] memory grown = new uint64[](window.length + 1);
        for (uint256 i = 0; i < grown.length; i++) {
            grown[i] = i < slot ? window[i] : i == slot ? nonce : window[i - 1];
        }
        if (grown.length <= NONCE_WINDOW_LEN) return grown;
        uint64[] memory kept = new uint64[](NONCE_WINDOW_LEN);
        for (uint256 i = 0; i < NONCE_WINDOW_LEN; i++) {
            kept[i] = grown[i + 1];
        }
        return kept;
    }

    // ---------------------------------------------------------------- leaves

    function leavesOf(bytes calldata witness) internal pure returns (Leaf[] memory) {
        if (witness.length == 0) return new Leaf[](0);
        return abi.decode(witness, (Leaf[]));
    }

    function requireCount(Leaf[] memory leaves, uint256 needed) internal pure {
        if (leaves.length != needed) revert WrongLeafCount(leaves.length, needed);
    }

    /// @dev Writes `value` under `key` given the leaf's proof against `root`; the claimed
    /// current value must be the proof's.
    function write(bytes32 root, bytes memory key, Leaf memory leaf, uint256 index, bytes memory value)
        internal
        pure
        returns (bytes32)
    {
        bytes32 keyHash = checked(key, leaf, index);
        StateProof.Preimage memory none;
        return StateProof.update(root, keyHash, false, keccak256(value), leaf.siblings, leaf.terminal, none);
    }

    /// @dev A refused transaction: every leaf read is proven against `root`, which stays.
    function unchanged(bytes32 root, Leaf[] memory leaves, bytes[] memory keys) internal pure returns (bytes32) {
        StateProof.Preimage memory none;
        for (uint256 i = 0; i < leaves.length; i++) {
            bytes32 keyHash = checked(keys[i], leaves[i], i);
            Leaf memory leaf = leaves[i];
            // Setting a present leaf to its value, or removing an absent one, leaves the
            // root as it is, and reverts unless the proof is against it.
            StateProof.update(root, keyHash, !leaf.present, keccak256(leaf.value), leaf.siblings, leaf.terminal, none);
        }
        return root;
    }

    /// @dev The key's hash, after checking the leaf's claim (present with `value`, or
    /// absent) agrees with its proof's terminal.
    function checked(bytes memory key, Leaf memory leaf, uint256 index) internal pure returns (bytes32 keyHash) {
        keyHash = keccak256(key);
        StateProof.Terminal memory terminal = leaf.terminal;
        bool terminalIsKey = terminal.isLeaf && terminal.keyHash == keyHash;
        if (leaf.present) {
            if (!terminalIsKey || terminal.valueHash != keccak256(leaf.value)) revert LeafMismatch(index);
        } else if (terminalIsKey || leaf.value.length != 0) {
            revert LeafMismatch(index);
        }
    }

    function accountKey(address account) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x01), account);
    }

    function withdrawalKey(uint64 index) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0x02), index);
    }

    /// @dev `collateral u128 ‖ count u8 ‖ nonce u64 × count`; absent is empty.
    function accountOf(Leaf memory leaf, uint256 index) internal pure returns (Account memory account) {
        if (!leaf.present) return account;
        bytes memory value = leaf.value;
        if (value.length < 17) revert BadLeafValue(index);
        uint256 count = uint8(value[16]);
        if (count > NONCE_WINDOW_LEN || value.length != 17 + 8 * count) revert BadLeafValue(index);
        account.collateral = uint128(readUint(value, 0, 16));
        account.nonces = new uint64[](count);
        for (uint256 i = 0; i < count; i++) {
            account.nonces[i] = uint64(readUint(value, 17 + 8 * i, 8));
        }
    }

    function encodeAccount(Account memory account) internal pure returns (bytes memory value) {
        value = abi.encodePacked(account.collateral, uint8(account.nonces.length));
        for (uint256 i = 0; i < account.nonces.length; i++) {
            value = bytes.concat(value, bytes8(account.nonces[i]));
        }
    }

    /// @dev `genesisSupply u128 ‖ minted u128 ‖ withdrawn u128 ‖ withdrawalCount u64 ‖
    /// deposited u128 ‖ depositCount u64 ‖ depositAccumulator`; absent is all zero.
    function totalsOf(Leaf memory leaf, uint256 index) internal pure returns (Totals memory totals) {
        if (!leaf.present) return totals;
        bytes memory value = leaf.value;
        if (value.length != 112) revert BadLeafValue(index);
        totals.genesisSupply = uint128(readUint(value, 0, 16));
        totals.minted = uint128(readUint(value, 16, 16));
        totals.withdrawn = uint128(readUint(value, 32, 16));
        totals.withdrawalCount = uint64(readUint(value, 48, 8));
        totals.deposited = uint128(readUint(value, 56, 16));
        totals.depositCount = uint64(readUint(value, 72, 8));
        totals.depositAccumulator = bytes32(readUint(value, 80, 32));
    }

    function encodeTotals(Totals memory t) internal pure returns (bytes memory) {
        return abi.encodePacked(
            t.genesisSupply, t.minted, t.withdrawn, t.withdrawalCount, t.deposited, t.depositCount, t.depositAccumulator
        );
    }

    /// @dev The big-endian unsigned integer of `width` bytes at `offset` of `data`.
    function readUint(bytes memory data, uint256 offset, uint256 width) internal pure returns (uint256 result) {
        assembly ("memory-safe") {
            result := shr(sub(256, mul(8, width)), mload(add(add(data, 32), offset)))
        }
    }
}
