"""Trade settlement: fees and realised PnL as one balanced ledger transfer per trade.

The operator settles every trade: each instrument's CLEARING account is the
counterparty of every realised PnL, so ``CLEARING balance == -sum(cost) x unit_value``
over all open positions at all times (checked by the invariants).

A party that owes money pays from its wallet in the settlement asset. If that is not
enough, the cross wallet converts its other eligible margin assets at the FX rate (the
client gives the rounded-up amount) in a published order: same currency first, then
fiat, tokenised deposits, stablecoins, then by asset code. If that is still not
enough, the account's unrealised gains on its cross positions pay next: they are
realised at the mark (the position's cost basis moves to give up exactly that gain,
and the instrument's CLEARING pays it out), so a client never leaves a loss to the
platform while it keeps a profitable position (``GainRealisedAtMark`` says so). What
still cannot be paid is covered, in order, by the insurance fund, then the operator's
committed capital, and any rest is booked to DEFICIT, which pauses withdrawals until
resolved. So no participant balance is ever negative: a client never loses more than
it posted.
"""

from __future__ import annotations

from collections.abc import Iterator

from harbour.kernel.assets import AssetKind
from harbour.kernel.money import BPS, FX_SCALE
from harbour.ledger.book import LedgerAccount
from harbour.venue.accounts import Position
from harbour.venue.events import GainRealisedAtMark
from harbour.venue.instruments import Instrument
from harbour.venue.state import DEFICIT, FX_CONVERSION, INSURANCE_FUND, PLATFORM_CAPITAL, VenueState, isolated_account

_RATE_DENOMINATOR = FX_SCALE * BPS
_KIND_ORDER = {AssetKind.FIAT: 0, AssetKind.TOKENISED_DEPOSIT: 1, AssetKind.STABLECOIN: 2}

Postings = list[tuple[LedgerAccount, str, int]]
GainsApplied = list[tuple[int, str, int]]  # (account, instrument, gain realised in its settlement micro-units)


def settle_nets(
    state: VenueState, sym: str, asset: str, nets: tuple[tuple[int, bool, int], ...], postings: Postings, gains: GainsApplied
) -> None:
    """Append the postings of a fill's parties: (account id, isolated, net amount) each, in
    ``sym``'s settlement ``asset``. A party's gain goes to its wallet, a debt is paid by ``pay``,
    and what no party can pay is covered by ``cover_shortfall``. The caller posts the
    instrument's CLEARING side (and any fees)."""
    missing = 0
    balance = state.ledger.balance
    for account_id, isolated, net in nets:
        if not net:
            continue
        wallet: LedgerAccount = isolated_account(account_id, sym) if isolated else account_id
        if net > 0 or balance(wallet, asset) >= -net:
            postings.append((wallet, asset, net))
        else:
            missing += pay(state, wallet, not isolated, asset, -net, postings, gains)
    if missing:
        cover_shortfall(state, asset, missing, postings)


def pay(
    state: VenueState, wallet: LedgerAccount, can_convert: bool, asset: str, amount: int, postings: Postings, gains: GainsApplied
) -> int:
    """Append postings by which ``wallet`` pays ``amount`` of ``asset``; return the uncovered rest
    after conversion and the account's own unrealised gains (appended to ``gains``), which
    the caller's cover path (``cover_shortfall``) must take."""
    ledger = state.ledger
    balance = ledger.balance(wallet, asset)
    if balance >= amount:
        postings.append((wallet, asset, -amount))
        return 0
    paid = balance if balance > 0 else 0
    if paid:
        postings.append((wallet, asset, -paid))
    missing = amount - paid
    if can_convert and missing:
        missing = _convert(state, wallet, asset, missing, postings)
        if missing and isinstance(wallet, int):
            missing = _realise_gains(state, wallet, asset, missing, postings, gains)
    return missing


def _gain_sources(state: VenueState, account_id: int, asset: str) -> Iterator[tuple[str, Position, Instrument, int, int]]:
    """The account's cross positions with an unrealised gain at the mark that can pay in
    ``asset``, in symbol order: (symbol, position, instrument, value of one micro-unit of its
    settlement asset in ``asset`` x 1e12, headroom in cost units)."""
    acct = state.accounts.get(account_id)
    if acct is None:
        return
    reg = state.registry
    target_ccy = reg.assets[asset].currency
    for sym in sorted(acct.positions):
        pos = acct.positions[sym]
        if pos.isolated or not pos.qty:
            continue
        inst = state.instruments[sym]
        headroom = pos.qty * inst.ref_price - pos.cost  # unrealised gain, cost units
        if headroom <= 0:
            continue
        source = inst.settlement_asset
        if source == asset:
            value_e12 = _RATE_DENOMINATOR
        else:
            rate = reg.fx_rate_e8(reg.assets[source].currency, target_ccy)
            if rate is None:
                continue
            value_e12 = rate * BPS
        yield sym, pos, inst, value_e12, headroom


def gains_payable(state: VenueState, account_id: int, asset: str, excluding: str = "") -> int:
    """The most ``pay`` can take in ``asset`` from the account's unrealised cross gains at the
    mark (``_realise_gains`` giving up every one), exactly as it would convert them; without
    the position in ``excluding`` (a liquidation's own position, whose gain its bankruptcy
    price already counts)."""
    return sum(
        (headroom * inst.unit_value * value_e12) // _RATE_DENOMINATOR
        for sym, _, inst, value_e12, headroom in _gain_sources(state, account_id, asset)
        if sym != excluding
    )


def _realise_gains(state: VenueState, account_id: int, asset: str, missing: int, postings: Postings, gains: GainsApplied) -> int:
    """Pay ``missing`` of ``asset`` from the account's unrealised gains at the mark, cross
    positions in symbol order; return what is still unpaid.

    A position gives up k cost units of gain (its cost basis rises by k, so its unrealised
    PnL at the mark falls by k x unit value) and its instrument's CLEARING pays them out,
    converted at the FX rate like a wallet's other assets; the few micro-units that a
    whole cost unit gives beyond the need stay with the client, in its wallet.
    """
    for sym, pos, inst, value_e12, headroom in list(_gain_sources(state, account_id, asset)):
        source = inst.settlement_asset
        need = -((-missing * _RATE_DENOMINATOR) // value_e12)  # in the source asset, rounded up
        uv = inst.unit_value
        units = -(-need // uv)
        if units > headroom:
            units = headroom
        gained = units * uv
        give = gained if gained < need else need
        got = missing if give == need else (give * value_e12) // _RATE_DENOMINATOR
        if got <= 0:
            continue
        pos.cost += units
        pos.realised += gained
        postings.append((inst.clearing_account, source, -gained))
        if source == asset:
            if gained > got:
                postings.append((account_id, source, gained - got))
        else:
            postings.append((FX_CONVERSION, source, give))
            postings.append((FX_CONVERSION, asset, -got))
            if gained > give:
                postings.append((account_id, source, gained - give))
        gains.append((account_id, sym, gained))
        missing -= got
        if not missing:
            break
    return missing


def _convert(state: VenueState, wallet: LedgerAccount, asset: str, missing: int, postings: Postings) -> int:
    """Convert the wallet's other assets into ``asset`` to pay ``missing``; return what is still unpaid.

    Eligible margin assets go first, at the FX rate. Assets that are no longer eligible
    (a stablecoin whose issuer left the register, a tokenised deposit whose bank left
    the allowlist) still belong to the client and pay its losses before any platform
    layer does, at the FX rate less their haircut. Virtual assets are never held here.
    """
    for other, bal, value_e12 in _conversion_sources(state, wallet, asset):
        need_units = -((-missing * _RATE_DENOMINATOR) // value_e12)  # client gives the rounded-up amount
        if need_units <= bal:
            give, got = need_units, missing
        else:
            give, got = bal, (bal * value_e12) // _RATE_DENOMINATOR
        if got <= 0:
            continue
        postings.append((wallet, other, -give))
        postings.append((FX_CONVERSION, other, give))
        postings.append((FX_CONVERSION, asset, -got))
        missing -= got
        if not missing:
            break
    return missing


def _conversion_sources(state: VenueState, wallet: LedgerAccount, asset: str) -> list[tuple[str, int, int]]:
    """The wallet's other assets that can pay in ``asset``, in the published order:
    (asset, balance, value of one unit in ``asset`` x 1e12)."""
    reg = state.registry
    target_ccy = reg.assets[asset].currency
    candidates = []
    for other, bal in state.ledger.wallet(wallet).items():
        if other == asset or bal <= 0:
            continue
        spec = reg.assets[other]
        if spec.kind is AssetKind.VIRTUAL_ASSET:
            continue
        rate = reg.fx_rate_e8(spec.currency, target_ccy)
        if rate is None:
            continue
        eligible = reg.is_eligible(other)
        keep_bps = BPS if eligible else BPS - spec.haircut_bps
        order = (not eligible, spec.currency != target_ccy, _KIND_ORDER.get(spec.kind, 9), other)
        candidates.append((order, other, bal, rate * keep_bps))
    return [(other, bal, value) for _, other, bal, value in sorted(candidates)]


def payable(state: VenueState, wallet: LedgerAccount, can_convert: bool, asset: str) -> int:
    """The most ``pay`` can take from ``wallet`` in ``asset`` before the account's gains and
    the platform's layers: its balance of ``asset`` and, if it may convert, every other
    asset converted exactly as ``pay`` converts it (never more than ``pay`` would get)."""
    held = state.ledger.balance(wallet, asset)
    total = held if held > 0 else 0
    if can_convert:
        for _, bal, value_e12 in _conversion_sources(state, wallet, asset):
            total += (bal * value_e12) // _RATE_DENOMINATOR
    return total


def layers_payable(state: VenueState, asset: str) -> int:
    """The most ``cover_shortfall`` can take in ``asset`` from the insurance fund and the
    operator's tranche before DEFICIT: their holdings of it and their other holdings converted
    exactly as ``cover_shortfall`` converts them."""
    return payable(state, INSURANCE_FUND, True, asset) + payable(state, PLATFORM_CAPITAL, True, asset)


def cover_shortfall(state: VenueState, asset: str, missing: int, postings: Postings) -> None:
    """Cover an unpaid amount: insurance fund, then operator capital, then DEFICIT.

    Each layer pays from its holdings of the settlement asset first, then converts its
    other holdings at the FX rate (the layer gives the rounded-up amount), before the
    next layer is touched.
    """
    for layer in (INSURANCE_FUND, PLATFORM_CAPITAL):
        if not missing:
            return
        available = state.ledger.balance(layer, asset)
        if available > 0:
            take = available if available < missing else missing
            postings.append((layer, asset, -take))
            missing -= take
        if missing:
            missing = _convert(state, layer, asset, missing, postings)
    if missing:
        postings.append((DEFICIT, asset, -missing))


def report_gains(state: VenueState, gains: GainsApplied, transfer_id: int, seq: int, ts: int, out: list[object]) -> None:
    """One ``GainRealisedAtMark`` per gain that ``pay`` applied within transfer ``transfer_id``."""
    for account_id, sym, gain in gains:
        inst = state.instruments[sym]
        cost = state.accounts[account_id].positions[sym].cost
        out.append(
            GainRealisedAtMark(
                seq=seq, ts_ns=ts, transfer_id=transfer_id, account=account_id, instrument=sym, gain=gain, mark=inst.ref_price, cost_after=cost
            )
        )
