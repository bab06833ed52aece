"""Accounts and money: deposits (eligibility, granularity), withdrawals from free
collateral only, platform funding, margin mode and isolated-margin transfers."""

from __future__ import annotations

from harbour.kernel.errors import RejectCode
from harbour.venue.commands import (
    AccountKind,
    Deposit,
    FundPlatformAccount,
    OpenAccount,
    PlaceOrder,
    SetDepositBankAllowlist,
    SetMarginMode,
    TransferIsolatedMargin,
    Withdraw,
)
from harbour.venue.events import AccountOpened, LiquidationStepped, LiquidationTriggered, LossReported, MarginModeSet, TransferPosted

from venue.helpers import BUY, ETH_REF, ETHHKD, SELL, Venue, hkd, posting_sum

C = RejectCode
ONE_ETH = 1_000
ETH_IM = 1_300_000_000


def _rest_one_eth_bid(v: Venue, account: int) -> int:
    return v.rest(account, ETHHKD, BUY, ONE_ETH, ETH_REF - 10)


# --- accounts --------------------------------------------------------------------------


def test_open_account_emits_kind_pi_expiry_and_legal_entity(venue: Venue) -> None:
    out = venue.ok(OpenAccount(account=5, kind=AccountKind.AFFILIATED_MM, legal_entity="MM-AFFILIATE"))

    [event] = venue.events_of(AccountOpened, out)
    assert (event.account, event.kind, event.legal_entity) == (5, AccountKind.AFFILIATED_MM, "MM-AFFILIATE")


def test_opening_an_existing_account_again_is_rejected(venue: Venue) -> None:
    venue.open_client(1)

    rejected = venue.reject(OpenAccount(account=1, kind=AccountKind.CLIENT), C.ACCOUNT_ALREADY_EXISTS)

    assert rejected.detail == {"account": 1}


def test_account_id_must_be_positive(venue: Venue) -> None:
    rejected = venue.reject(OpenAccount(account=0, kind=AccountKind.CLIENT), C.INVALID_PARAMETER)

    assert "positive" in rejected.detail["problem"]


# --- deposits --------------------------------------------------------------------------


def test_fiat_deposit_credits_the_wallet_by_a_balanced_transfer_from_external(venue: Venue) -> None:
    venue.open_client(1)

    out = venue.deposit(1, "HKD", hkd(500))

    [transfer] = venue.events_of(TransferPosted, out)
    assert transfer.kind == "DEPOSIT"
    assert sorted((str(a), s, v) for a, s, v in transfer.postings) == [("1", "HKD", hkd(500)), ("EXTERNAL", "HKD", -hkd(500))]
    assert venue.balance(1, "HKD") == hkd(500)


def test_fiat_deposit_finer_than_a_cent_is_rejected(venue: Venue) -> None:
    venue.open_client(1)

    rejected = venue.reject(Deposit(account=1, asset="HKD", amount=1_000), C.AMOUNT_OFF_GRANULARITY)

    assert rejected.detail == {"amount": 1_000, "granularity": 10_000, "asset": "HKD"}


def test_stablecoin_deposit_may_be_any_whole_micro_unit(venue: Venue) -> None:
    venue.open_client(1)

    venue.deposit(1, "HKDX", 1)

    assert venue.balance(1, "HKDX") == 1


def test_deposit_of_a_virtual_asset_is_rejected(venue: Venue) -> None:
    venue.open_client(1)

    rejected = venue.reject(Deposit(account=1, asset="BTC", amount=1_000_000), C.VIRTUAL_ASSET_NOT_ACCEPTED_AS_MARGIN)

    assert rejected.detail == {"asset": "BTC"}


def test_deposit_of_a_stablecoin_whose_issuer_is_not_registered_is_rejected(venue: Venue) -> None:
    venue.open_client(1)

    rejected = venue.reject(Deposit(account=1, asset="HKDY", amount=hkd(1)), C.MARGIN_ASSET_NOT_ELIGIBLE)

    assert rejected.detail["asset"] == "HKDY"
    assert "register" in rejected.message


def test_deposit_of_a_tokenised_deposit_from_a_bank_off_the_allowlist_is_rejected(venue: Venue) -> None:
    venue.open_client(1)
    venue.ok(SetDepositBankAllowlist(banks=()))

    rejected = venue.reject(Deposit(account=1, asset="TDHKD", amount=hkd(1)), C.MARGIN_ASSET_NOT_ELIGIBLE)

    assert "allowlist" in rejected.message


def test_deposit_of_an_unlisted_asset_is_rejected(venue: Venue) -> None:
    venue.open_client(1)

    rejected = venue.reject(Deposit(account=1, asset="SGD", amount=hkd(1)), C.UNKNOWN_ASSET)

    assert rejected.detail == {"asset": "SGD"}


def test_deposit_of_zero_is_rejected(venue: Venue) -> None:
    venue.open_client(1)

    rejected = venue.reject(Deposit(account=1, asset="HKD", amount=0), C.AMOUNT_NOT_POSITIVE)

    assert rejected.detail == {"amount": 0}


def test_deposit_to_an_unknown_account_is_rejected(venue: Venue) -> None:
    rejected = venue.reject(Deposit(account=77, asset="HKD", amount=hkd(1)), C.UNKNOWN_ACCOUNT)

    assert rejected.detail == {"account": 77}


# --- withdrawals -----------------------------------------------------------------------


def test_withdrawal_within_free_collateral_is_paid_out_to_external(venue: Venue) -> None:
    venue.open_client(1, hkd=2_000)
    _rest_one_eth_bid(venue, 1)

    out = venue.withdraw(1, "HKD", hkd(700))

    assert posting_sum(out, "EXTERNAL", "HKD") == hkd(700)
    assert venue.balance(1, "HKD") == hkd(1_300)


def test_withdrawal_beyond_free_collateral_of_open_orders_is_rejected(venue: Venue) -> None:
    venue.open_client(1, hkd=2_000)
    _rest_one_eth_bid(venue, 1)

    rejected = venue.reject(Withdraw(account=1, asset="HKD", amount=hkd(700) + 10_000), C.INSUFFICIENT_FREE_COLLATERAL)

    assert rejected.detail == {"remaining": ETH_IM - 10_000, "required": ETH_IM}


def test_withdrawal_beyond_free_collateral_of_a_position_is_rejected(venue: Venue) -> None:
    venue.open_client(1, hkd=2_000)
    venue.open_mm(9, hkd=1_000_000)
    venue.cross(9, 1, ETHHKD, BUY, ONE_ETH, ETH_REF)  # pays a 13 HKD taker fee: 1,987 HKD left

    venue.reject(Withdraw(account=1, asset="HKD", amount=hkd(687) + 10_000), C.INSUFFICIENT_FREE_COLLATERAL)
    venue.withdraw(1, "HKD", hkd(687))

    assert venue.balance(1, "HKD") == ETH_IM


def test_withdrawal_cannot_pay_out_unrealised_profit(venue: Venue) -> None:
    # long 1 ETH at 26,000 with 1,300 HKD (1,287 after the fee); the reference rises to 28,000, so
    # the position shows +2,000 HKD unrealised and needs 1,400 HKD of initial margin. The wallet
    # (1,287) does not cover that margin, so nothing is free to withdraw: paying out the cash
    # would leave a position backed only by an unrealised gain, i.e. credit from the platform.
    venue.open_client(1, hkd=1_300)
    venue.open_mm(9, hkd=1_000_000)
    venue.cross(9, 1, ETHHKD, BUY, ONE_ETH, ETH_REF)
    venue.set_ref(ETHHKD, 2_800_000)

    rejected = venue.reject(Withdraw(account=1, asset="HKD", amount=venue.balance(1, "HKD")), C.INSUFFICIENT_FREE_COLLATERAL)

    assert rejected.detail == {"remaining": 0, "required": hkd(1_400)}


def test_withdrawal_of_more_than_the_balance_is_rejected(venue: Venue) -> None:
    venue.open_client(1, hkd=100)

    rejected = venue.reject(Withdraw(account=1, asset="HKD", amount=hkd(101)), C.INSUFFICIENT_BALANCE)

    assert rejected.detail == {"balance": hkd(100), "asset": "HKD", "amount": hkd(101)}


def test_withdrawal_finer_than_a_cent_is_rejected(venue: Venue) -> None:
    venue.open_client(1, usd=100)

    rejected = venue.reject(Withdraw(account=1, asset="USD", amount=1), C.AMOUNT_OFF_GRANULARITY)

    assert rejected.detail == {"amount": 1, "granularity": 10_000, "asset": "USD"}


def test_withdrawal_of_a_no_longer_eligible_stablecoin_is_allowed_while_equity_covers_the_requirement(venue: Venue) -> None:
    venue.open_client(1, hkd=1_300, hkdx=hkd(500))
    _rest_one_eth_bid(venue, 1)
    venue.set_issuers()

    venue.withdraw(1, "HKDX", hkd(500))

    assert venue.balance(1, "HKDX") == 0


def test_withdrawal_of_a_no_longer_eligible_stablecoin_is_refused_while_below_the_requirement(venue: Venue) -> None:
    # an account below its requirement keeps all it holds: its assets pay its losses first
    venue.open_client(1, hkd=800, hkdx=hkd(600))
    _rest_one_eth_bid(venue, 1)
    venue.set_issuers()

    rejected = venue.reject(Withdraw(account=1, asset="HKDX", amount=hkd(1)), C.INSUFFICIENT_FREE_COLLATERAL)

    assert rejected.detail == {"remaining": hkd(800), "required": ETH_IM}


# --- platform funding ------------------------------------------------------------------


def test_platform_funding_credits_the_insurance_fund(venue: Venue) -> None:
    before = venue.balance("INSURANCE_FUND", "HKD")

    venue.ok(FundPlatformAccount(target="INSURANCE_FUND", asset="HKD", amount=hkd(1_000)))

    assert venue.balance("INSURANCE_FUND", "HKD") - before == hkd(1_000)


def test_platform_funding_of_another_account_is_rejected(venue: Venue) -> None:
    rejected = venue.reject(FundPlatformAccount(target="FEE_INCOME", asset="HKD", amount=hkd(1_000)), C.INVALID_PARAMETER)

    assert "INSURANCE_FUND" in rejected.detail["problem"]


# --- margin mode and isolated margin ---------------------------------------------------


def test_margin_mode_cannot_change_with_an_open_order(venue: Venue) -> None:
    venue.open_client(1, hkd=2_000)
    _rest_one_eth_bid(venue, 1)

    rejected = venue.reject(SetMarginMode(account=1, instrument=ETHHKD, isolated=True), C.MARGIN_MODE_CHANGE_WITH_EXPOSURE)

    assert rejected.detail == {}
    assert venue.state.accounts[1].positions[ETHHKD].isolated is False


def test_isolated_order_is_checked_against_the_isolated_wallet_only(venue: Venue) -> None:
    venue.open_client(1, hkd=1_000_000)
    out = venue.set_isolated(1, ETHHKD)
    order = PlaceOrder(account=1, instrument=ETHHKD, side=BUY, qty=ONE_ETH, price=ETH_REF - 10)

    rejected = venue.reject(order, C.INSUFFICIENT_ISOLATED_MARGIN)
    venue.ok(TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=ETH_IM))
    accepted = venue.ok(order)

    assert [e.isolated for e in venue.events_of(MarginModeSet, out)] == [True]
    assert rejected.detail == {"required": ETH_IM, "available": 0}
    assert venue.order_id(accepted) in venue.engine.open_order_ids(1)


def test_isolated_transfer_out_below_the_requirement_is_rejected(venue: Venue) -> None:
    venue.open_client(1, hkd=10_000)
    venue.set_isolated(1, ETHHKD)
    venue.ok(TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=ETH_IM))
    _rest_one_eth_bid(venue, 1)

    rejected = venue.reject(TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=-1), C.INSUFFICIENT_ISOLATED_MARGIN)

    assert rejected.detail == {"available": ETH_IM - 1, "required": ETH_IM}


def test_isolated_transfer_in_beyond_the_cross_balance_is_rejected(venue: Venue) -> None:
    venue.open_client(1, hkd=100)
    venue.set_isolated(1, ETHHKD)

    rejected = venue.reject(TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=hkd(101)), C.INSUFFICIENT_BALANCE)

    assert rejected.detail == {"balance": hkd(100), "asset": "HKD", "amount": hkd(101)}


def test_isolated_transfer_for_a_cross_margined_instrument_is_rejected(venue: Venue) -> None:
    venue.open_client(1, hkd=100)

    rejected = venue.reject(TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=hkd(1)), C.INVALID_PARAMETER)

    assert "isolated" in rejected.detail["problem"]


def _isolated_eth_long(v: Venue) -> None:
    """Client 1 (1,000,000 HKD) long 1 ETH at 26,000 in isolated margin with 1,400 HKD moved in;
    the 13 HKD opening fee comes from the isolated wallet, leaving 1,387 HKD there."""
    v.open_client(1, hkd=1_000_000)
    v.open_mm(9, hkd=1_000_000)
    v.set_isolated(1, ETHHKD)
    v.ok(TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=hkd(1_400)))
    v.cross(9, 1, ETHHKD, BUY, ONE_ETH, ETH_REF)


def test_isolated_loss_beyond_the_isolated_wallet_never_touches_the_cross_wallet(venue: Venue) -> None:
    # Mark 25,400: isolated balance 1,387 - 600 = 787 HKD, above the 635 maintenance; the market maker
    # bids 1 ETH at 24,200 (inside the band). Mark 24,000: balance 1,387 - 2,000 = -613 < 600, so the
    # isolated position is liquidated. Bankruptcy price 24,000 + 613 = 24,613: no bid there, so it is
    # unwound against the 24,200 bid, within the 5% collar (22,800): the 1,800 HKD loss takes the
    # isolated 1,387 and the insurance fund pays the 413 beyond it. The cross wallet is never touched.
    _isolated_eth_long(venue)
    venue.set_ref(ETHHKD, 2_540_000)
    venue.rest(9, ETHHKD, BUY, ONE_ETH, 2_420_000)
    insurance_before = venue.balance("INSURANCE_FUND", "HKD")

    out = venue.set_ref(ETHHKD, 2_400_000)

    [step] = venue.events_of(LiquidationStepped, out)
    [report] = venue.events_of(LossReported, out)
    assert (step.bankruptcy_price, step.book_qty, step.backstop_qty, step.adl_qty) == (2_461_300, 0, ONE_ETH, 0)
    assert (report.scope, report.closed) == (ETHHKD, ((ETHHKD, ONE_ETH),))
    assert report.layers == (("DEFAULTER_MARGIN", "HKD", hkd(1_387)), ("INSURANCE_FUND", "HKD", hkd(413)))
    assert venue.balance(1, "HKD") == hkd(1_000_000) - hkd(1_400)
    assert venue.balance("ISO:1:ETHHKD", "HKD") == 0
    assert insurance_before - venue.balance("INSURANCE_FUND", "HKD") == hkd(413)


def test_isolated_liquidation_with_no_bid_deleverages_at_the_bankruptcy_price_and_spares_the_cross_wallet(venue: Venue) -> None:
    # the same gap with an empty book: the position is deleveraged against the profitable short of the
    # market maker at the bankruptcy price 24,613, so the loss ends exactly at the isolated 1,387 HKD
    # and neither the cross wallet nor the insurance fund pays anything
    _isolated_eth_long(venue)
    insurance_before = venue.balance("INSURANCE_FUND", "HKD")

    out = venue.set_ref(ETHHKD, 2_400_000)

    [report] = venue.events_of(LossReported, out)
    assert report.layers == (("DEFAULTER_MARGIN", "HKD", hkd(1_387)),)
    assert report.adl == ((9, ONE_ETH, 2_461_300),)
    assert venue.balance(1, "HKD") == hkd(1_000_000) - hkd(1_400)
    assert venue.balance("ISO:1:ETHHKD", "HKD") == 0
    assert venue.balance("INSURANCE_FUND", "HKD") == insurance_before


def test_isolated_position_closed_below_the_mark_pays_beyond_its_wallet_from_the_fund_not_the_cross_wallet(venue: Venue) -> None:
    # Mark 25,400 (isolated balance 787 HKD, above the 635 maintenance: no liquidation); the client sells
    # at 24,200, inside the band: it owes 1,800 + 12.10 taker fee against 1,387, and the insurance fund
    # pays the 425.10 beyond it; the isolated wallet never converts the cross wallet's money
    _isolated_eth_long(venue)
    venue.set_ref(ETHHKD, 2_540_000)
    insurance_before = venue.balance("INSURANCE_FUND", "HKD")

    venue.cross(9, 1, ETHHKD, SELL, ONE_ETH, 2_420_000, reduce_only=True)

    assert venue.events_of(LiquidationTriggered) == []
    assert venue.balance(1, "HKD") == hkd(1_000_000) - hkd(1_400)
    assert venue.balance("ISO:1:ETHHKD", "HKD") == 0
    assert insurance_before - venue.balance("INSURANCE_FUND", "HKD") == 425_100_000


def test_switching_an_idle_isolated_instrument_back_to_cross_returns_its_wallet(venue: Venue) -> None:
    venue.open_client(1, hkd=2_000)
    venue.set_isolated(1, ETHHKD)
    venue.ok(TransferIsolatedMargin(account=1, instrument=ETHHKD, amount=hkd(500)))

    out = venue.set_isolated(1, ETHHKD, False)

    assert posting_sum(out, 1, "HKD") == hkd(500)
    assert (venue.balance(1, "HKD"), venue.balance("ISO:1:ETHHKD", "HKD")) == (hkd(2_000), 0)
