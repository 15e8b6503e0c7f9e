// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title TestUsdc
 * @notice A plain ERC-20 stand-in for USDC on development and test chains (anvil): anyone holding
 * it can transfer, and its deployer mints. Never deployed on a production chain.
 */
contract TestUsdc is ERC20 {
    address private immutable _minter;
    uint8 private immutable _decimals;

    error NotMinter(address caller);

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _minter = msg.sender;
        _decimals = decimals_;
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mints `amount` base units to `to` (the deployer only).
    function mint(address to, uint256 amount) external {
        if (msg.sender != _minter) revert NotMinter(msg.sender);
        _mint(to, amount);
    }
}
