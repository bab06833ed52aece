"""Account and money handlers: open accounts, professional-investor status, deposits,
withdrawals, platform funding, margin mode and isolated-margin transfers.

Rules: only eligible margin assets may be deposited (fiat, licensed-issuer HKD
stablecoins, allowlisted tokenised deposits; never a virtual asset). A withdrawal is
allowed only from free collateral: after it, equity, counting unrealised losses but not
unrealised gains, must still cover the initial margin of positions and open orders; and
none is allowed while an unresolved deficit exists.
"""

from __future__ import annotations

from harbour.kernel.assets import AssetKind
from harbour.kernel.errors import RejectCode
from harbour.kernel.money import MAX_NET_HOLDINGS
from harbour.ledger.book import LedgerAccount
from harbour.venue.accounts import Account, Position
from harbour.venue.commands import (
    Deposit,
    FundPlatformAccount,
    OpenAccount,
    SetLeverage,
    SetMarginMode,
    SetProfessionalInvestorStatus,
    TransferIsolatedMargin,
    Withdraw,
)
from harbour.venue.events import AccountOpened, LeverageSet, MarginModeSet, ProfessionalInvestorStatusSet, TransferPosted
from harbour.venue.margin import cross_equity_and_requirement, instrument_requirement, isolated_equity, raised_requirement_problem
from harbour.venue.rejects import rejected
from harbour.venue.state import DEFICIT, EXTERNAL, FUNDABLE_PLATFORM_ACCOUNTS, RISK_CURRENCY, VenueState, isolated_account

C = RejectCode


def _transfer(
    st: VenueState, seq: int, ts: int, kind: str, postings: list[tuple[LedgerAccount, str, int]], reference: str, out: list[object]
) -> None:
    transfer_id = st.ledger.post(postings)
    out.append(
        TransferPosted(
            seq=seq,
            ts_ns=ts,
            transfer_id=transfer_id,
            kind=kind,
            postings=tuple(postings),
            reference=reference,
        )
    )


def open_account(st: VenueState, seq: int, ts: int, cmd: OpenAccount, out: list[object]) -> None:
    if cmd.account <= 0:
        out.append(rejected(seq, ts, "open_account", C.INVALID_PARAMETER, problem="account id must be positive"))
        return
    if cmd.account in st.accounts:
        out.append(rejected(seq, ts, "open_account", C.ACCOUNT_ALREADY_EXISTS, account=cmd.account))
        return
    st.accounts[cmd.account] = Account(cmd.account, cmd.kind, cmd.pi_expiry_ns, cmd.legal_entity)
    out.append(
        AccountOpened(seq=seq, ts_ns=ts, account=cmd.account, kind=cmd.kind, pi_expiry_ns=cmd.pi_expiry_ns, legal_entity=cmd.legal_entity)
    )


def set_pi_status(st: VenueState, seq: int, ts: int, cmd: SetProfessionalInvestorStatus, out: list[object]) -> None:
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, "set_pi_status", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    old = acct.pi_expiry_ns
    acct.pi_expiry_ns = cmd.expiry_ns
    out.append(ProfessionalInvestorStatusSet(seq=seq, ts_ns=ts, account=cmd.account, old_expiry_ns=old, new_expiry_ns=cmd.expiry_ns))


def _amount_problem(st: VenueState, asset: str, amount: int) -> tuple[RejectCode, dict[str, str | int]] | None:
    spec = st.registry.assets.get(asset)
    if spec is None:
        return C.UNKNOWN_ASSET, {"asset": asset}
    if amount <= 0:
        return C.AMOUNT_NOT_POSITIVE, {"amount": amount}
    if amount % spec.granularity:
        return C.AMOUNT_OFF_GRANULARITY, {"amount": amount, "granularity": spec.granularity, "asset": asset}
    return None


def _ceiling_problem(st: VenueState, asset: str, amount: int) -> tuple[RejectCode, dict[str, str | int]] | None:
    """Money coming in may not take the platform's net holdings of an asset past the ceiling."""
    net = st.external_in.get(asset, 0) - st.external_out.get(asset, 0)
    if net + amount > MAX_NET_HOLDINGS:
        return C.AMOUNT_TOO_LARGE, {"amount": amount, "asset": asset, "ceiling": MAX_NET_HOLDINGS}
    return None


def _cross_outflow_problem(st: VenueState, acct: Account, asset: str, amount: int) -> tuple[RejectCode, dict[str, str | int]] | None:
    """May ``amount`` of ``asset`` leave the cross wallet? Only from free collateral.

    After it, equity must still cover the requirement, counting unrealised losses but not
    unrealised gains (cash is never paid out against unrealised profit). Checked for every
    asset, eligible or not: an account below its requirement keeps all it holds, since its
    assets pay its losses before any platform layer does.
    """
    balance = st.ledger.balance(acct.account_id, asset)
    if balance < amount:
        return C.INSUFFICIENT_BALANCE, {"balance": balance, "asset": asset, "amount": amount}
    reg = st.registry
    value_lost = reg.collateral_value(asset, balance, RISK_CURRENCY) - reg.collateral_value(asset, balance - amount, RISK_CURRENCY)
    equity, requirement = cross_equity_and_requirement(st, acct, count_unrealised_gains=False)
    if equity - value_lost < requirement:
        return C.INSUFFICIENT_FREE_COLLATERAL, {"remaining": equity - value_lost, "required": requirement}
    return None


def _eligibility_problem(st: VenueState, asset: str) -> tuple[RejectCode, dict[str, str | int]] | None:
    reg = st.registry
    spec = reg.assets[asset]
    if spec.kind is AssetKind.VIRTUAL_ASSET:
        return C.VIRTUAL_ASSET_NOT_ACCEPTED_AS_MARGIN, {"asset": asset}
    if not reg.is_eligible(asset):
        why = "issuer not on the HKMA licensed-issuer register" if spec.kind is AssetKind.STABLECOIN else "issuing bank not on the allowlist"
        return C.MARGIN_ASSET_NOT_ELIGIBLE, {"asset": asset, "why": why}
    return None


def deposit(st: VenueState, seq: int, ts: int, cmd: Deposit, out: list[object]) -> None:
    if cmd.account not in st.accounts:
        out.append(rejected(seq, ts, "deposit", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    problem = _amount_problem(st, cmd.asset, cmd.amount) or _eligibility_problem(st, cmd.asset)
    problem = problem or _ceiling_problem(st, cmd.asset, cmd.amount)
    if problem is not None:
        out.append(rejected(seq, ts, "deposit", problem[0], **problem[1]))
        return
    st.external_in[cmd.asset] = st.external_in.get(cmd.asset, 0) + cmd.amount
    _transfer(st, seq, ts, "DEPOSIT", [(EXTERNAL, cmd.asset, -cmd.amount), (cmd.account, cmd.asset, cmd.amount)], cmd.reference, out)


def withdraw(st: VenueState, seq: int, ts: int, cmd: Withdraw, out: list[object]) -> None:
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, "withdraw", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    problem = _amount_problem(st, cmd.asset, cmd.amount)
    if problem is None and st.withdrawals_paused():
        problem = C.WITHDRAWALS_PAUSED, {}
    if problem is None:
        problem = _cross_outflow_problem(st, acct, cmd.asset, cmd.amount)
    if problem is not None:
        out.append(rejected(seq, ts, "withdraw", problem[0], **problem[1]))
        return
    st.external_out[cmd.asset] = st.external_out.get(cmd.asset, 0) + cmd.amount
    _transfer(st, seq, ts, "WITHDRAWAL", [(cmd.account, cmd.asset, -cmd.amount), (EXTERNAL, cmd.asset, cmd.amount)], cmd.reference, out)


def fund_platform_account(st: VenueState, seq: int, ts: int, cmd: FundPlatformAccount, out: list[object]) -> None:
    if cmd.target not in FUNDABLE_PLATFORM_ACCOUNTS:
        out.append(
            rejected(seq, ts, "fund_platform_account", C.INVALID_PARAMETER, problem="target must be INSURANCE_FUND, PLATFORM_CAPITAL or DEFICIT")
        )
        return
    problem = _amount_problem(st, cmd.asset, cmd.amount) or _eligibility_problem(st, cmd.asset)
    problem = problem or _ceiling_problem(st, cmd.asset, cmd.amount)
    if problem is None and cmd.target == DEFICIT and cmd.amount > -st.ledger.balance(DEFICIT, cmd.asset):
        problem = C.INVALID_PARAMETER, {"problem": f"recapitalisation exceeds the {cmd.asset} deficit"}
    if problem is not None:
        out.append(rejected(seq, ts, "fund_platform_account", problem[0], **problem[1]))
        return
    st.external_in[cmd.asset] = st.external_in.get(cmd.asset, 0) + cmd.amount
    _transfer(st, seq, ts, "PLATFORM_FUNDING", [(EXTERNAL, cmd.asset, -cmd.amount), (cmd.target, cmd.asset, cmd.amount)], "", out)


def set_margin_mode(st: VenueState, seq: int, ts: int, cmd: SetMarginMode, out: list[object]) -> None:
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, "set_margin_mode", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, "set_margin_mode", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    pos = acct.positions.get(cmd.instrument)
    if pos is not None and not pos.is_idle():
        out.append(rejected(seq, ts, "set_margin_mode", C.MARGIN_MODE_CHANGE_WITH_EXPOSURE))
        return
    if pos is None:
        pos = acct.positions[cmd.instrument] = Position()
    if pos.isolated and not cmd.isolated:
        iso = isolated_account(acct.account_id, cmd.instrument)
        left = st.ledger.balance(iso, inst.settlement_asset)
        if left:
            _transfer(
                st, seq, ts, "ISOLATED_MARGIN", [(iso, inst.settlement_asset, -left), (acct.account_id, inst.settlement_asset, left)], cmd.instrument, out
            )
    pos.isolated = cmd.isolated
    out.append(MarginModeSet(seq=seq, ts_ns=ts, account=cmd.account, instrument=cmd.instrument, isolated=cmd.isolated))


def set_leverage(st: VenueState, seq: int, ts: int, cmd: SetLeverage, out: list[object]) -> None:
    """Choose leverage on an instrument; a choice that raises the initial margin must still be covered."""
    name = "set_leverage"
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, name, C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    sym = cmd.instrument
    inst = st.instruments.get(sym)
    if inst is None:
        out.append(rejected(seq, ts, name, C.UNKNOWN_INSTRUMENT, instrument=sym))
        return
    top = inst.tiers[0].max_leverage
    if not 1 <= cmd.leverage <= top:
        out.append(rejected(seq, ts, name, C.LEVERAGE_OUT_OF_RANGE, leverage=cmd.leverage, max_leverage=top))
        return
    old = acct.leverage.get(sym, 0)
    pos = acct.positions.get(sym)
    if pos is not None and not pos.is_idle():
        after = instrument_requirement(pos, inst, cmd.leverage)
        if after > instrument_requirement(pos, inst, old):
            problem = raised_requirement_problem(st, acct, inst, pos, after)
            if problem is not None:
                out.append(rejected(seq, ts, name, problem[0], **problem[1]))
                return
    acct.leverage[sym] = cmd.leverage
    out.append(LeverageSet(seq=seq, ts_ns=ts, account=acct.account_id, instrument=sym, old=old, new=cmd.leverage))


def transfer_isolated_margin(st: VenueState, seq: int, ts: int, cmd: TransferIsolatedMargin, out: list[object]) -> None:
    acct = st.accounts.get(cmd.account)
    if acct is None:
        out.append(rejected(seq, ts, "transfer_isolated_margin", C.UNKNOWN_ACCOUNT, account=cmd.account))
        return
    inst = st.instruments.get(cmd.instrument)
    if inst is None:
        out.append(rejected(seq, ts, "transfer_isolated_margin", C.UNKNOWN_INSTRUMENT, instrument=cmd.instrument))
        return
    pos = acct.positions.get(cmd.instrument)
    if pos is None or not pos.isolated:
        out.append(rejected(seq, ts, "transfer_isolated_margin", C.INVALID_PARAMETER, problem="the position is not in isolated mode"))
        return
    if cmd.amount == 0:
        out.append(rejected(seq, ts, "transfer_isolated_margin", C.AMOUNT_NOT_POSITIVE, amount=0))
        return
    asset = inst.settlement_asset
    iso = isolated_account(acct.account_id, cmd.instrument)
    amount = abs(cmd.amount)
    if cmd.amount > 0:
        problem = _cross_outflow_problem(st, acct, asset, amount)
        if problem is not None:
            out.append(rejected(seq, ts, "transfer_isolated_margin", problem[0], **problem[1]))
            return
        postings: list[tuple[LedgerAccount, str, int]] = [(acct.account_id, asset, -amount), (iso, asset, amount)]
    else:
        balance = st.ledger.balance(iso, asset)
        required = instrument_requirement(pos, inst, acct.leverage.get(cmd.instrument, 0))
        equity = isolated_equity(st, acct, cmd.instrument, count_unrealised_gains=False)
        if balance < amount:
            out.append(rejected(seq, ts, "transfer_isolated_margin", C.INSUFFICIENT_BALANCE, balance=balance, asset=asset, amount=amount))
            return
        if equity - amount < required:
            out.append(rejected(seq, ts, "transfer_isolated_margin", C.INSUFFICIENT_ISOLATED_MARGIN, available=equity - amount, required=required))
            return
        postings = [(iso, asset, -amount), (acct.account_id, asset, amount)]
    _transfer(st, seq, ts, "ISOLATED_MARGIN", postings, cmd.instrument, out)
