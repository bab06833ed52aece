"""Venue stress test: the BTC/ETH scenario library applied to the venue's book of positions.

Owns ``StressCase``, ``ParticipantLoss``, ``ScenarioResult``, ``VenueStressReport``,
``stress_cases`` and ``run_venue_stress``. The scenarios are the broker's library
(``harbour.broker.stress_scenarios``, margin-financing.md §3), reused, not copied: each
cumulative step of a scenario (the tiers' 1 h, 1 day, 3 days, 7 days) is one case. A
perpetual book loses on both sides, so each case is applied as a fall (as in the library),
mirrored as a rise of the same size (shorts lose), and as the two decouplings, BTC falling
while ETH rises by the library's sizes and the reverse (a book long one contract and short
the other loses there, and nowhere else).

Method, per case, in integers only:

1. Every instrument's mark moves by the shock of its reference asset:
   shocked = floor(mark x (10000 + shock_bps) / 10000), never below 0. BTC takes the BTC
   shock, ETH the ETH shock, any other reference the larger of the two.
2. Each account's loss after its margin is the negative part of its margin balance at the
   shocked marks, with the engine's own functions (``venue.margin``): the cross part in the
   risk currency (collateral after haircuts plus unrealised PnL), and each isolated position
   on its own (its wallet plus unrealised PnL, converted to the risk currency rounding the
   loss up). A gain in one scope never offsets a loss in another, as in the engine.
   Positions are held through the window with no liquidation (the gap-risk case), so the
   figure is an upper bound of what the waterfall pays.
3. Losses are summed per participant (the account's legal entity; an account without one
   is its own participant), because affiliates default together (cover-2 as CCPs apply it).
4. The waterfall consumes the total loss in order: the insurance fund, then the operator's
   capital tranche (each valued in the risk currency as ``venue.disclosure.layer_sizes``),
   then what auto-deleveraging would have to take.
5. Cover-2: the two largest participant losses together are covered by fund + tranche
   without ADL. Cover-1 likewise for the largest.

The report hashes (blake2b-256 of its canonical JSON) and yields the ``RecordStressReport``
command that journals its summary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

import msgspec

from harbour.broker.stress_scenarios import LIBRARY, LIBRARY_VERSION, TIERS, Scenario
from harbour.kernel.money import BPS, FX_SCALE
from harbour.venue.commands import RecordStressReport
from harbour.venue.disclosure import layer_sizes
from harbour.venue.margin import cross_margin_balance_and_maintenance, isolated_margin_balance_and_maintenance
from harbour.venue.state import DEFICIT, INSURANCE_FUND, PLATFORM_CAPITAL, RISK_CURRENCY, VenueState

DOWN: Final = "DOWN"
UP: Final = "UP"
BTC_DOWN_ETH_UP: Final = "BTC_DOWN_ETH_UP"
BTC_UP_ETH_DOWN: Final = "BTC_UP_ETH_DOWN"
DIRECTIONS: Final = (DOWN, UP, BTC_DOWN_ETH_UP, BTC_UP_ETH_DOWN)
# (BTC sign, ETH sign) applied to the library's falls; the last two break the BTC/ETH correlation,
# which is what a book hedged across the two contracts (long one, short the other) loses on
_SIGNS: Final = {DOWN: (1, 1), UP: (-1, -1), BTC_DOWN_ETH_UP: (1, -1), BTC_UP_ETH_DOWN: (-1, 1)}
_MOVE_LABELS: Final = {DOWN: "down", UP: "up", BTC_DOWN_ETH_UP: "BTC down, ETH up", BTC_UP_ETH_DOWN: "BTC up, ETH down"}
DEFAULT_SCENARIOS: Final[tuple[Scenario, ...]] = TIERS  # the house shock tiers: BTC/ETH, 1 h to 7 days
ALL_SCENARIOS: Final[tuple[Scenario, ...]] = LIBRARY
TOP_PARTICIPANTS: Final = 5


class StressCase(msgspec.Struct, frozen=True, kw_only=True):
    """One shock applied to the marks: signed bps of BTC and ETH (negative: a fall)."""

    scenario: str
    window: str
    direction: str
    btc_bps: int
    eth_bps: int

    @property
    def move(self) -> str:
        """The direction in words: "down", "up", "BTC down, ETH up" or "BTC up, ETH down"."""
        return _MOVE_LABELS[self.direction]

    @property
    def label(self) -> str:
        return f"{self.scenario} {self.window} {self.move}"


class ParticipantLoss(msgspec.Struct, frozen=True, kw_only=True):
    participant: str
    accounts: tuple[int, ...]
    loss: int  # risk-currency micro-units


class ScenarioResult(msgspec.Struct, frozen=True, kw_only=True):
    case: StressCase
    marks: tuple[tuple[str, int], ...]  # (instrument, shocked mark)
    accounts_in_default: int
    total_loss: int
    largest: tuple[ParticipantLoss, ...]  # at most TOP_PARTICIPANTS, largest first
    cover1_loss: int
    cover2_loss: int
    fund_used: int
    tranche_used: int
    adl: int  # what auto-deleveraging would have to take
    cover1_covered: bool
    cover2_covered: bool
    cover2_headroom: int  # fund + tranche - cover-2 loss (negative: a shortfall)


class VenueStressReport(msgspec.Struct, frozen=True, kw_only=True):
    library_version: str
    as_of_seq: int
    as_of_state_hash: str
    risk_currency: str
    insurance_fund: int
    capital_tranche: int
    deficit: int  # an unresolved deficit already booked (not reduced by the stress)
    accounts_with_positions: int
    results: tuple[ScenarioResult, ...]

    def to_json(self) -> bytes:
        return msgspec.json.encode(self, order="sorted")

    @property
    def report_hash(self) -> str:
        return hashlib.blake2b(self.to_json(), digest_size=32).hexdigest()

    @property
    def worst(self) -> ScenarioResult:
        """The case with the largest cover-2 loss (the first of equals)."""
        best = self.results[0]
        for r in self.results[1:]:
            if r.cover2_loss > best.cover2_loss:
                best = r
        return best

    @property
    def cover2_failures(self) -> int:
        return sum(1 for r in self.results if not r.cover2_covered)

    def record_command(self) -> RecordStressReport:
        """The command that journals this report's summary."""
        return RecordStressReport(
            report_hash=self.report_hash,
            as_of_seq=self.as_of_seq,
            as_of_state_hash=self.as_of_state_hash,
            library_version=self.library_version,
            scenarios=len(self.results),
            insurance_fund=self.insurance_fund,
            capital_tranche=self.capital_tranche,
            worst_scenario=self.worst.case.label,
            worst_cover2_loss=self.worst.cover2_loss,
            worst_total_loss=max(r.total_loss for r in self.results),
            worst_adl=max(r.adl for r in self.results),
            cover2_failures=self.cover2_failures,
            risk_currency=self.risk_currency,
        )


def stress_cases(scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS, directions: Sequence[str] = DIRECTIONS) -> list[StressCase]:
    """Every cumulative step of every scenario, in library order, each in every direction."""
    cases = []
    for s in scenarios:
        for step in s.steps:
            for d in directions:
                btc, eth = _SIGNS[d]
                cases.append(StressCase(scenario=s.name, window=step.window, direction=d, btc_bps=btc * step.btc_bps, eth_bps=eth * step.eth_bps))
    return cases


def shocked_price(price: int, shock_bps: int) -> int:
    """floor(price x (10000 + shock_bps) / 10000), never below 0."""
    moved = price * (BPS + shock_bps) // BPS
    return moved if moved > 0 else 0


def _shock_for(reference: str, case: StressCase) -> int:
    if reference == "BTC":
        return case.btc_bps
    if reference == "ETH":
        return case.eth_bps
    return case.btc_bps if abs(case.btc_bps) >= abs(case.eth_bps) else case.eth_bps


def _to_risk_up(st: VenueState, currency: str, amount: int) -> int:
    if currency == RISK_CURRENCY:
        return amount
    rate = st.registry.fx_rate_e8(currency, RISK_CURRENCY)
    if rate is None:
        raise ValueError(f"no FX rate from {currency} to {RISK_CURRENCY}")
    return -((-amount * rate) // FX_SCALE)


def account_losses(st: VenueState) -> dict[int, int]:
    """Each account's loss after its margin at the state's current marks (risk currency; only > 0)."""
    losses: dict[int, int] = {}
    for account_id in sorted(st.accounts):
        acct = st.accounts[account_id]
        loss = 0
        has_cross = False
        for sym, pos in sorted(acct.positions.items()):
            if not pos.qty:
                continue
            if pos.isolated:
                balance, _ = isolated_margin_balance_and_maintenance(st, acct, sym)
                if balance < 0:
                    loss += _to_risk_up(st, st.instruments[sym].settlement_currency, -balance)
            else:
                has_cross = True
        if has_cross:
            balance, _ = cross_margin_balance_and_maintenance(st, acct)
            if balance < 0:
                loss -= balance
        if loss:
            losses[account_id] = loss
    return losses


def _participants(st: VenueState, losses: dict[int, int]) -> list[ParticipantLoss]:
    groups: dict[str, list[int]] = {}
    for account_id in losses:
        entity = st.accounts[account_id].legal_entity or f"account {account_id}"
        groups.setdefault(entity, []).append(account_id)
    rows = [ParticipantLoss(participant=name, accounts=tuple(ids), loss=sum(losses[a] for a in ids)) for name, ids in groups.items()]
    rows.sort(key=lambda r: (-r.loss, r.participant))
    return rows


def run_case(work: VenueState, base_marks: dict[str, int], case: StressCase, fund: int, tranche: int) -> ScenarioResult:
    """Apply one case to ``work`` (its marks are overwritten) and measure the waterfall."""
    marks = []
    for sym, inst in sorted(work.instruments.items()):
        inst.ref_price = shocked_price(base_marks[sym], _shock_for(inst.reference, case))
        marks.append((sym, inst.ref_price))
    losses = account_losses(work)
    participants = _participants(work, losses)
    total = sum(losses.values())
    cover1 = participants[0].loss if participants else 0
    cover2 = cover1 + (participants[1].loss if len(participants) > 1 else 0)
    fund_used = min(total, fund)
    tranche_used = min(total - fund_used, tranche)
    return ScenarioResult(
        case=case,
        marks=tuple(marks),
        accounts_in_default=len(losses),
        total_loss=total,
        largest=tuple(participants[:TOP_PARTICIPANTS]),
        cover1_loss=cover1,
        cover2_loss=cover2,
        fund_used=fund_used,
        tranche_used=tranche_used,
        adl=total - fund_used - tranche_used,
        cover1_covered=cover1 <= fund + tranche,
        cover2_covered=cover2 <= fund + tranche,
        cover2_headroom=fund + tranche - cover2,
    )


def run_venue_stress(
    st: VenueState,
    *,
    as_of_seq: int,
    scenarios: Sequence[Scenario] = DEFAULT_SCENARIOS,
    directions: Sequence[str] = DIRECTIONS,
) -> VenueStressReport:
    """Stress the book of ``st`` (left unchanged: the cases run on a decoded copy)."""
    cases = stress_cases(scenarios, directions)
    if not cases:
        raise ValueError("no stress cases: give at least one scenario and one direction")
    state_hash = st.state_hash().hex()
    work = VenueState.decode(st.encode())
    base_marks = {sym: inst.ref_price for sym, inst in work.instruments.items()}
    layers = layer_sizes(st)
    fund = max(layers[INSURANCE_FUND]["value_in_risk_currency"], 0)
    tranche = max(layers[PLATFORM_CAPITAL]["value_in_risk_currency"], 0)
    deficit = -min(layers[DEFICIT]["value_in_risk_currency"], 0)
    with_positions = sum(1 for a in st.accounts.values() if any(p.qty for p in a.positions.values()))
    results = tuple(run_case(work, base_marks, case, fund, tranche) for case in cases)
    return VenueStressReport(
        library_version=LIBRARY_VERSION,
        as_of_seq=as_of_seq,
        as_of_state_hash=state_hash,
        risk_currency=RISK_CURRENCY,
        insurance_fund=fund,
        capital_tranche=tranche,
        deficit=deficit,
        accounts_with_positions=with_positions,
        results=results,
    )
