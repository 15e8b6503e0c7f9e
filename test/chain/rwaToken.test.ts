import { type Contract, type Interface, type JsonRpcProvider } from 'ethers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAnvil, type Anvil, type AnvilAccount } from '../../src/chain/anvil.ts';
import { createChainClient, type ChainClient } from '../../src/chain/client.ts';
import { eventsOf, providerFor, revertName, send, tokenAs, tokenInterface } from './helpers.ts';

/** The contract's rules, each exercised on a fresh token on a real anvil. */
let anvil: Anvil;
let platform: ChainClient;
let provider: JsonRpcProvider;
let iface: Interface;
let alice: AnvilAccount;
let bob: AnvilAccount;
let mallory: AnvilAccount;

const UNIT = 10n ** 18n;

beforeAll(async () => {
  [anvil, iface] = await Promise.all([startAnvil(), tokenInterface()]);
  [, alice, bob, mallory] = anvil.accounts as [AnvilAccount, AnvilAccount, AnvilAccount, AnvilAccount];
  const deployer = anvil.accounts[0]!;
  platform = createChainClient({
    rpcUrl: anvil.rpcUrl,
    chainId: anvil.chainId,
    privateKey: deployer.privateKey,
    pollingIntervalMs: 50,
  });
  provider = providerFor(anvil.rpcUrl);
});

afterAll(async () => {
  platform.close();
  provider.destroy();
  await anvil.stop();
});

interface Fixture {
  address: string;
  as(holder: AnvilAccount): Contract;
}

/** A token where alice and bob are allowlisted and hold 100 units each; mallory is not allowlisted. */
async function freshToken(): Promise<Fixture> {
  const { contractAddress: address } = await platform.deployRwaToken({
    name: 'Harbour Tower',
    symbol: 'HTWR',
    totalSupply: 1_000_000n * UNIT,
  });
  await Promise.all([
    platform.setAllowlisted(address, alice.address, true),
    platform.setAllowlisted(address, bob.address, true),
  ]);
  await Promise.all([
    platform.mint(address, alice.address, 100n * UNIT),
    platform.mint(address, bob.address, 100n * UNIT),
  ]);
  return { address, as: (holder) => tokenAs(address, iface, holder.privateKey, provider) };
}

async function balanceOf(token: string, holder: AnvilAccount): Promise<bigint> {
  return (await platform.holderStatus(token, holder.address)).balance;
}

describe('RwaToken', () => {
  it('mints the initial supply to the allowlisted treasury and reports name, symbol, decimals', async () => {
    const { contractAddress } = await platform.deployRwaToken({
      name: 'Green Bond 2031',
      symbol: 'GB31',
      totalSupply: 5_000n * 10n ** 6n,
      decimals: 6,
      treasury: bob.address,
    });
    expect(await platform.tokenInfo(contractAddress)).toEqual({
      name: 'Green Bond 2031',
      symbol: 'GB31',
      decimals: 6,
      totalSupply: 5_000n * 10n ** 6n,
    });
    expect(await platform.holderStatus(contractAddress, bob.address)).toEqual({
      allowlisted: true,
      frozen: false,
      balance: 5_000n * 10n ** 6n,
    });
    expect(await balanceOf(contractAddress, alice)).toBe(0n);
  });

  it('emits AllowlistUpdated when a holder is added and removed', async () => {
    const token = await freshToken();
    const added = await platform.setAllowlisted(token.address, mallory.address, true);
    const removed = await platform.setAllowlisted(token.address, mallory.address, false);
    expect(await eventsOf(provider, iface, added.txHash)).toEqual([
      { name: 'AllowlistUpdated', args: [mallory.address, true, platform.address] },
    ]);
    expect(await eventsOf(provider, iface, removed.txHash)).toEqual([
      { name: 'AllowlistUpdated', args: [mallory.address, false, platform.address] },
    ]);
    expect((await platform.holderStatus(token.address, mallory.address)).allowlisted).toBe(false);
  });

  it('lets only the platform mint, and only to allowlisted holders', async () => {
    const token = await freshToken();
    expect(await revertName(send(iface, () => token.as(alice).getFunction('mint')(alice.address, 1n)))).toBe(
      'AccessControlUnauthorizedAccount',
    );
    expect(await revertName(platform.mint(token.address, mallory.address, 1n))).toBe('NotAllowlisted');
    await platform.mint(token.address, alice.address, 5n);
    expect(await balanceOf(token.address, alice)).toBe(100n * UNIT + 5n);
  });

  it('moves tokens between allowlisted holders', async () => {
    const token = await freshToken();
    await send(iface, () => token.as(alice).getFunction('transfer')(bob.address, 30n * UNIT));
    expect(await balanceOf(token.address, alice)).toBe(70n * UNIT);
    expect(await balanceOf(token.address, bob)).toBe(130n * UNIT);
  });

  it('reverts a transfer to a holder who is not allowlisted, also through transferFrom', async () => {
    const token = await freshToken();
    const transfer = send(iface, () => token.as(alice).getFunction('transfer')(mallory.address, 1n));
    expect(await revertName(transfer)).toBe('NotAllowlisted');
    await send(iface, () => token.as(alice).getFunction('approve')(bob.address, 10n));
    const pull = send(iface, () =>
      token.as(bob).getFunction('transferFrom')(alice.address, mallory.address, 1n),
    );
    expect(await revertName(pull)).toBe('NotAllowlisted');
    expect(await balanceOf(token.address, mallory)).toBe(0n);
  });

  it('reverts a transfer from a holder removed from the allowlist', async () => {
    const token = await freshToken();
    await platform.setAllowlisted(token.address, alice.address, false);
    const transfer = send(iface, () => token.as(alice).getFunction('transfer')(bob.address, 1n));
    expect(await revertName(transfer)).toBe('NotAllowlisted');
  });

  it('freezes an address: it can neither send nor receive until unfrozen', async () => {
    const token = await freshToken();
    const frozen = await platform.freeze(token.address, alice.address, true);
    expect(await eventsOf(provider, iface, frozen.txHash)).toEqual([
      { name: 'AddressFrozen', args: [alice.address, true, platform.address] },
    ]);
    const out = send(iface, () => token.as(alice).getFunction('transfer')(bob.address, 1n));
    expect(await revertName(out)).toBe('AccountFrozen');
    const into = send(iface, () => token.as(bob).getFunction('transfer')(alice.address, 1n));
    expect(await revertName(into)).toBe('AccountFrozen');
    expect(await revertName(platform.mint(token.address, alice.address, 1n))).toBe('AccountFrozen');

    await platform.freeze(token.address, alice.address, false);
    await send(iface, () => token.as(alice).getFunction('transfer')(bob.address, 1n));
    expect(await balanceOf(token.address, bob)).toBe(100n * UNIT + 1n);
  });

  it('reverts transfers and mints while paused; only an agent pauses', async () => {
    const token = await freshToken();
    expect(await revertName(send(iface, () => token.as(alice).getFunction('pause')()))).toBe(
      'AccessControlUnauthorizedAccount',
    );
    await platform.setPaused(token.address, true);
    const transfer = send(iface, () => token.as(alice).getFunction('transfer')(bob.address, 1n));
    expect(await revertName(transfer)).toBe('EnforcedPause');
    expect(await revertName(platform.mint(token.address, alice.address, 1n))).toBe('EnforcedPause');
    await platform.setPaused(token.address, false);
    await send(iface, () => token.as(alice).getFunction('transfer')(bob.address, 1n));
  });

  it('lets the agent force a transfer out of a frozen, de-listed wallet, even while paused', async () => {
    const token = await freshToken();
    await platform.freeze(token.address, alice.address, true);
    await platform.setAllowlisted(token.address, alice.address, false);
    await platform.setPaused(token.address, true);
    const forced = await platform.forcedTransfer(token.address, alice.address, bob.address, 100n * UNIT);
    const events = await eventsOf(provider, iface, forced.txHash);
    expect(events.map((e) => e.name)).toEqual(['Transfer', 'ForcedTransfer']);
    expect(events[1]?.args).toEqual([alice.address, bob.address, 100n * UNIT, platform.address]);
    expect(await balanceOf(token.address, alice)).toBe(0n);
    expect(await balanceOf(token.address, bob)).toBe(200n * UNIT);
  });

  it('keeps the receiver checks and the balance limit in a forced transfer', async () => {
    const token = await freshToken();
    const toOutsider = platform.forcedTransfer(token.address, alice.address, mallory.address, 1n);
    expect(await revertName(toOutsider)).toBe('NotAllowlisted');
    await platform.freeze(token.address, bob.address, true);
    const toFrozen = platform.forcedTransfer(token.address, alice.address, bob.address, 1n);
    expect(await revertName(toFrozen)).toBe('AccountFrozen');
    await platform.freeze(token.address, bob.address, false);
    const tooMuch = platform.forcedTransfer(token.address, alice.address, bob.address, 101n * UNIT);
    expect(await revertName(tooMuch)).toBe('ERC20InsufficientBalance');
  });

  it('refuses a forced transfer by anyone but an agent', async () => {
    const token = await freshToken();
    const forced = send(iface, () =>
      token.as(bob).getFunction('forcedTransfer')(alice.address, bob.address, 1n),
    );
    expect(await revertName(forced)).toBe('AccessControlUnauthorizedAccount');
    const listing = send(iface, () => token.as(bob).getFunction('setAllowlisted')(mallory.address, true));
    expect(await revertName(listing)).toBe('AccessControlUnauthorizedAccount');
    const freezing = send(iface, () => token.as(bob).getFunction('setFrozen')(alice.address, true));
    expect(await revertName(freezing)).toBe('AccessControlUnauthorizedAccount');
    expect(await balanceOf(token.address, alice)).toBe(100n * UNIT);
  });
});
