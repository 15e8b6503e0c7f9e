// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @dev The agent call of contracts/RwaToken.sol this contract makes.
interface IForcedTransfer {
    function forcedTransfer(address from, address to, uint256 amount) external;
}

/**
 * @title Settlement
 * @notice Delivery versus payment for the exchange's settlement rounds: every leg of a round (the
 * netted movements of every token between the users' custodial deposit addresses) moves in one
 * transaction, or none does.
 *
 * A leg of an RWA token goes through RwaToken.forcedTransfer (this contract holds the token's
 * AGENT_ROLE; the receiver must still be allowlisted and not frozen). A leg of a plain ERC-20 goes
 * through transferFrom (each deposit address approved this contract once).
 *
 * A round settles at most once: its id is recorded, and a second settle of it reverts. Only the
 * platform (OPERATOR_ROLE) settles.
 */
contract Settlement is AccessControl {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    struct Leg {
        address token;
        address from;
        address to;
        uint256 amount;
        /// @dev true: RwaToken.forcedTransfer (agent); false: ERC-20 transferFrom (allowance).
        bool forced;
    }

    mapping(uint256 roundId => bool) private _settled;

    /// @notice Round `roundId` moved its `legs` legs.
    event RoundSettled(uint256 indexed roundId, uint256 legs);

    /// @notice Round `roundId` was settled before.
    error RoundAlreadySettled(uint256 roundId);

    constructor(address platform) {
        _grantRole(DEFAULT_ADMIN_ROLE, platform);
        _grantRole(OPERATOR_ROLE, platform);
    }

    /// @notice Whether round `roundId` was settled.
    function isSettled(uint256 roundId) external view returns (bool) {
        return _settled[roundId];
    }

    /// @notice Moves every leg of round `roundId`; reverts (moving nothing) when any leg fails.
    function settle(uint256 roundId, Leg[] calldata legs) external onlyRole(OPERATOR_ROLE) {
        if (_settled[roundId]) revert RoundAlreadySettled(roundId);
        _settled[roundId] = true;
        for (uint256 i = 0; i < legs.length; i++) {
            Leg calldata leg = legs[i];
            if (leg.forced) IForcedTransfer(leg.token).forcedTransfer(leg.from, leg.to, leg.amount);
            else SafeERC20.safeTransferFrom(IERC20(leg.token), leg.from, leg.to, leg.amount);
        }
        emit RoundSettled(roundId, legs.length);
    }
}
