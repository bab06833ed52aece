"""Trade settlement: fees and realised PnL as one balanced ledger transfer per trade.

The operator settles every trade: each instrument's CLEARING account is the
counterparty of every realised PnL, so ``CLEARING balance == -sum(cost) x unit_value``
over all open positions at all times (checked by the invariants).

A party that owes money pays from its wallet in the settlement asset. If that is not
enough, the cross wallet converts its other eligible margin assets at the FX rate (the
client gives the rounded-up amount) in a published order: same currency first, then
fiat, tokenised deposits, stablecoins, then by asset code. What still cannot be paid
is covered, in order, by the insurance fund, then the operator's committed capital,
and any rest is booked to DEFICIT, which pauses withdrawals until resolved. So no
participant balance is ever negative: a client never loses more than it posted.
"""

from __future__ import annotations

from harbour.kernel.assets import AssetKind
from harbour.kernel.money import BPS, FX_SCALE
from harbour.ledger.book import LedgerAccount
from harbour.venue.state import DEFICIT, FX_CONVERSION, INSURANCE_FUND, PLATFORM_CAPITAL, VenueState

_RATE_DENOMINATOR = FX_SCALE * BPS
_KIND_ORDER = {AssetKind.FIAT: 0, AssetKind.TOKENISED_DEPOSIT: 1, AssetKind.STABLECOIN: 2}

Postings = list[tuple[LedgerAccount, str, int]]


def pay(state: VenueState, wallet: LedgerAccount, can_convert: bool, asset: str, amount: int, postings: Postings) -> int:
    """Append postings by which ``wallet`` pays ``amount`` of ``asset``; return the uncovered rest
    after conversion, which the caller's cover path (``cover_shortfall``) must take."""
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
    return missing


def _convert(state: VenueState, wallet: LedgerAccount, asset: str, missing: int, postings: Postings) -> int:
    """Convert the wallet's other assets into ``asset`` to pay ``missing``; return what is still unpaid.

    Eligible margin assets go first, at the FX rate. Assets that are no longer eligible
    (a stablecoin whose issuer left the register, a tokenised deposit whose bank left
    the allowlist) still belong to the client and pay its losses before any platform
    layer does, at the FX rate less their haircut. Virtual assets are never held here.
    """
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
    for _, other, bal, value_e12 in sorted(candidates):
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
