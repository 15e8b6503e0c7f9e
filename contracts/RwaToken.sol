// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

/**
 * @title RwaToken
 * @notice ERC-20 token of one tokenized real-world asset, in the spirit of ERC-3643 (T-REX): tokens
 * move only between compliant holders the platform has put on an allowlist.
 *
 * Rules, enforced for every balance change (transfer, transferFrom, mint):
 * - the receiver must be allowlisted and not frozen;
 * - for a transfer, the sender must also be allowlisted and not frozen (the spender of a
 *   transferFrom is not checked: the tokens move between sender and receiver, not through it);
 * - nothing moves while the token is paused (mint included).
 *
 * Forced transfer (agent only) is the exception used for settlement and for recovering a lost
 * wallet. It skips every check on the SENDER (allowlist, freeze) and the pause, because those are
 * exactly the situations it exists for: a holder whose key is lost or whose address was frozen, or
 * an incident during which the token is paused. It keeps every check on the RECEIVER (allowlisted,
 * not frozen) so that tokens can never land at a non-compliant address, and it cannot exceed the
 * sender's balance, mint or burn.
 *
 * Roles, all granted to the platform at construction:
 * - DEFAULT_ADMIN_ROLE grants and revokes the roles below;
 * - ISSUER_ROLE mints;
 * - AGENT_ROLE manages the allowlist and freezes, pauses and unpauses, and forces transfers.
 *
 * Decimals are chosen at deployment (18 is the usual value) so that one token unit can match the
 * quantity decimals of the market that trades it.
 */
contract RwaToken is ERC20, AccessControl, Pausable {
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");
    bytes32 public constant AGENT_ROLE = keccak256("AGENT_ROLE");

    uint8 private immutable _decimals;

    mapping(address account => bool) private _allowlisted;
    mapping(address account => bool) private _frozen;

    /// @notice `account` was added to (`allowed` true) or removed from the allowlist by `agent`.
    event AllowlistUpdated(address indexed account, bool allowed, address indexed agent);

    /// @notice `account` was frozen (`frozen` true) or unfrozen by `agent` (ERC-3643 event name).
    event AddressFrozen(address indexed account, bool indexed frozen, address indexed agent);

    /// @notice `agent` moved `value` from `from` to `to` without the sender's consent.
    event ForcedTransfer(address indexed from, address indexed to, uint256 value, address indexed agent);

    /// @notice `account` is not on the allowlist of compliant holders.
    error NotAllowlisted(address account);

    /// @notice `account` is frozen: it can neither send nor receive.
    error AccountFrozen(address account);

    /// @notice The zero address was given where a real account is required.
    error ZeroAddress();

    /**
     * @param name_ Token name.
     * @param symbol_ Token symbol.
     * @param decimals_ Decimals of the token's base unit.
     * @param initialSupply Base units minted to `treasury` at construction (may be zero).
     * @param platform Receives every role (admin, issuer, agent).
     * @param treasury Receives the initial supply; allowlisted here so that the mint passes.
     */
    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        uint256 initialSupply,
        address platform,
        address treasury
    ) ERC20(name_, symbol_) {
        if (platform == address(0) || treasury == address(0)) revert ZeroAddress();
        _decimals = decimals_;
        _grantRole(DEFAULT_ADMIN_ROLE, platform);
        _grantRole(ISSUER_ROLE, platform);
        _grantRole(AGENT_ROLE, platform);
        _setAllowlisted(treasury, true);
        if (initialSupply > 0) _mint(treasury, initialSupply);
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Whether `account` is on the allowlist of compliant holders.
    function isAllowlisted(address account) external view returns (bool) {
        return _allowlisted[account];
    }

    /// @notice Whether `account` is frozen.
    function isFrozen(address account) external view returns (bool) {
        return _frozen[account];
    }

    /// @notice Mints `amount` base units to `to`, which must be allowlisted and not frozen.
    function mint(address to, uint256 amount) external onlyRole(ISSUER_ROLE) {
        _mint(to, amount);
    }

    /// @notice Adds `account` to (`allowed` true) or removes it from the allowlist.
    function setAllowlisted(address account, bool allowed) external onlyRole(AGENT_ROLE) {
        _setAllowlisted(account, allowed);
    }

    /// @notice Freezes (`frozen` true) or unfreezes `account`.
    function setFrozen(address account, bool frozen) external onlyRole(AGENT_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        _frozen[account] = frozen;
        emit AddressFrozen(account, frozen, _msgSender());
    }

    function pause() external onlyRole(AGENT_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(AGENT_ROLE) {
        _unpause();
    }

    /**
     * @notice Moves `amount` from `from` to `to` without `from`'s consent, for settlement and wallet
     * recovery. Skips the sender's allowlist and freeze checks and the pause; the receiver must still
     * be allowlisted and not frozen. Reverts with ERC20InsufficientBalance beyond `from`'s balance.
     */
    function forcedTransfer(address from, address to, uint256 amount) external onlyRole(AGENT_ROLE) {
        if (from == address(0)) revert ERC20InvalidSender(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        _requireCompliantReceiver(to);
        // The parent's _update moves the balance without this contract's sender and pause checks.
        super._update(from, to, amount);
        emit ForcedTransfer(from, to, amount, _msgSender());
    }

    /// @dev Every ordinary balance change (transfer, transferFrom, mint) passes through here.
    function _update(address from, address to, uint256 value) internal override {
        _requireNotPaused();
        if (from != address(0)) {
            if (_frozen[from]) revert AccountFrozen(from);
            if (!_allowlisted[from]) revert NotAllowlisted(from);
        }
        if (to != address(0)) _requireCompliantReceiver(to);
        super._update(from, to, value);
    }

    function _requireCompliantReceiver(address to) private view {
        if (_frozen[to]) revert AccountFrozen(to);
        if (!_allowlisted[to]) revert NotAllowlisted(to);
    }

    function _setAllowlisted(address account, bool allowed) private {
        if (account == address(0)) revert ZeroAddress();
        _allowlisted[account] = allowed;
        emit AllowlistUpdated(account, allowed, _msgSender());
    }
}
