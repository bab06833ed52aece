"""C2 and C5 over the whole margin book: the broker's securities margin book lives in its SMF system, so the
book figures carry an SMF extract (each client's loans there, loans to related-group members without an account
here, the SMF book's margin value per security) and the limits count it beside this engine's own book."""

from __future__ import annotations

import pytest

from harbour.broker.commands import (
    BuyVirtualAsset,
    RecordBookFigures,
    SmfClientLoan,
    SmfGroupLoan,
    SmfSecurityMarginValue,
)
from harbour.broker.engine import BrokerEngine
from harbour.broker.state import BrokerState
from harbour.kernel.errors import RejectCode

from .helpers import BTC_100K, Broker, coins, hkd

C = RejectCode


def _figures(shareholders_funds: int, *, loans: tuple[SmfClientLoan, ...] = (), groups: tuple[SmfGroupLoan, ...] = (),
             securities: tuple[SmfSecurityMarginValue, ...] = (), book: int = hkd(10**9)) -> RecordBookFigures:  # fmt: skip
    return RecordBookFigures(
        shareholders_funds=shareholders_funds, capital=hkd(10**9), securities_margin_loans=book,
        client_loans=loans, group_loans=groups, security_margin_values=securities,
    )  # fmt: skip


def test_c2_counts_the_clients_securities_margin_loans_in_the_smf_books() -> None:
    b = Broker()
    b.mixed_client(1, financed_btc=0)
    b.waive_single_stock_limit("0005")
    b.ok(_figures(hkd(1_000_000), loans=(SmfClientLoan(client=1, amount=hkd(150_000)),)))  # C2: 200,000 per client

    rej = b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.SINGLE_CLIENT_LIMIT_EXCEEDED)

    assert (rej.detail["value"], rej.detail["limit"]) == (hkd(250_000), hkd(200_000))  # 100,000 here + 150,000 in the SMF books
    b.buy(1, "BTC", coins(1) // 2, BTC_100K)  # 50,000 + 150,000 = the limit exactly
    assert b.state.loan(1) == hkd(50_000)


def test_without_an_smf_extract_c2_counts_this_engine_alone() -> None:
    b = Broker()
    b.mixed_client(1, financed_btc=0)
    b.waive_single_stock_limit("0005")
    b.ok(_figures(hkd(1_000_000)))

    b.buy(1, "BTC", coins(1), BTC_100K)

    assert b.state.loan(1) == hkd(100_000)


def test_c2_related_group_counts_members_smf_loans_and_members_without_an_account_here() -> None:
    b = Broker()
    b.mixed_client(1, related_group="G", financed_btc=0)
    b.mixed_client(2, related_group="G", financed_btc=0)
    b.waive_single_stock_limit("0005")
    b.ok(_figures(hkd(1_000_000), loans=(SmfClientLoan(client=2, amount=hkd(60_000)),), groups=(SmfGroupLoan(related_group="G", amount=hkd(80_000)),)))

    rej = b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1) // 10 * 7, price=BTC_100K), C.RELATED_GROUP_LIMIT_EXCEEDED)

    assert (rej.detail["value"], rej.detail["limit"]) == (hkd(210_000), hkd(200_000))  # 70,000 + 60,000 + 80,000
    b.buy(1, "BTC", coins(1) // 10 * 6, BTC_100K)


def test_c5_counts_the_smf_books_margin_value_in_the_security() -> None:
    b = Broker()
    b.mixed_client(1, financed_btc=0)  # 700,000 of 0005 margin value here
    b.ok(_figures(hkd(5_000_000), securities=(SmfSecurityMarginValue(security="0005", margin_value=hkd(400_000)),)))  # C5: 1,000,000 per stock

    rej = b.reject(BuyVirtualAsset(client=1, asset="BTC", qty=coins(1), price=BTC_100K), C.SINGLE_STOCK_LIMIT_EXCEEDED)

    assert (rej.detail["instrument"], rej.detail["value"], rej.detail["limit"]) == ("0005", hkd(1_100_000), hkd(1_000_000))


@pytest.mark.parametrize(
    ("figures", "code"),
    [
        (_figures(hkd(10**6), loans=(SmfClientLoan(client=1, amount=-1),)), C.INVALID_PARAMETER),
        (_figures(hkd(10**6), loans=(SmfClientLoan(client=0, amount=1),)), C.INVALID_PARAMETER),
        (_figures(hkd(10**6), loans=(SmfClientLoan(client=1, amount=1), SmfClientLoan(client=1, amount=2))), C.INVALID_PARAMETER),
        (_figures(hkd(10**6), groups=(SmfGroupLoan(related_group=" ", amount=1),)), C.INVALID_PARAMETER),
        (_figures(hkd(10**6), securities=(SmfSecurityMarginValue(security="9999", margin_value=1),)), C.UNKNOWN_SECURITY),
        (_figures(hkd(10**6), loans=(SmfClientLoan(client=1, amount=10**17),)), C.AMOUNT_TOO_LARGE),
        (_figures(hkd(10**6), loans=(SmfClientLoan(client=1, amount=hkd(6)),), groups=(SmfGroupLoan(related_group="G", amount=hkd(5)),), book=hkd(10)),
         C.INVALID_PARAMETER),
    ],
    ids=["negative", "client-0", "duplicate", "blank-group", "unlisted-security", "too-large", "more-than-the-book"],
)
def test_a_malformed_smf_extract_is_rejected_and_changes_nothing(figures: RecordBookFigures, code: RejectCode) -> None:
    b = Broker()
    b.mixed_client(1, financed_btc=0)

    b.reject(figures, code)  # the driver checks the state hash is unchanged

    assert b.state.book is None


def test_the_smf_extract_is_replaced_as_a_whole_and_survives_snapshot_restore() -> None:
    b = Broker()
    b.mixed_client(1, financed_btc=0)
    b.ok(_figures(hkd(10**9), loans=(SmfClientLoan(client=1, amount=hkd(5)),), securities=(SmfSecurityMarginValue(security="0005", margin_value=hkd(7)),)))
    b.ok(_figures(hkd(10**9), loans=(SmfClientLoan(client=1, amount=hkd(9)),)))

    restored = BrokerEngine(BrokerState.decode(b.state.encode()))

    for st in (b.state, restored.state):
        assert st.book is not None and st.book.smf_client_loan(1) == hkd(9) and st.book.smf_security_margin_value("0005") == 0
    assert restored.state_hash() == b.hash()
