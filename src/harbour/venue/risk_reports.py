"""Risk reports recorded in the journal: the venue stress test summary.

Owns ``record_stress_report``. The stress test itself runs outside the engine
(``harbour.sim.venue_stress``, which needs the scenario library); the engine only checks the
summary is well formed and records it as a ``StressReportRecorded`` event and as venue state
(the latest one), so the report is in the journal, replay reproduces it, and the disclosure
can show the latest cover-2 result beside the waterfall's layer sizes.

Invariants: every check comes before the one state change; amounts are integers.
"""

from __future__ import annotations

from harbour.kernel.errors import RejectCode
from harbour.venue.commands import RecordStressReport
from harbour.venue.events import StressReportRecorded
from harbour.venue.rejects import rejected
from harbour.venue.state import VenueState

C = RejectCode

_HEX = frozenset("0123456789abcdef")


def _is_hash(text: str) -> bool:
    return len(text) == 64 and set(text) <= _HEX


def stress_report_problem(seq: int, cmd: RecordStressReport) -> str | None:
    """Why a stress report summary is malformed, or None."""
    if not _is_hash(cmd.report_hash) or not _is_hash(cmd.as_of_state_hash):
        return "report_hash and as_of_state_hash must be 64 lowercase hex digits"
    if not 0 <= cmd.as_of_seq < seq:
        return f"as_of_seq must be a seq before this command's ({seq})"
    if not cmd.library_version.strip() or not cmd.worst_scenario.strip() or not cmd.risk_currency.strip():
        return "library_version, worst_scenario and risk_currency must be named"
    if cmd.scenarios < 1 or not 0 <= cmd.cover2_failures <= cmd.scenarios:
        return "need at least one scenario and 0 <= cover2_failures <= scenarios"
    amounts = (cmd.insurance_fund, cmd.capital_tranche, cmd.worst_cover2_loss, cmd.worst_total_loss, cmd.worst_adl)
    if any(a < 0 for a in amounts):
        return "amounts must not be negative"
    if cmd.worst_cover2_loss > cmd.worst_total_loss or cmd.worst_adl > cmd.worst_total_loss:
        return "the cover-2 loss and the ADL amount cannot exceed the largest total loss"
    return None


def record_stress_report(st: VenueState, seq: int, ts: int, cmd: RecordStressReport, out: list[object]) -> None:
    problem = stress_report_problem(seq, cmd)
    if problem is not None:
        out.append(rejected(seq, ts, "record_stress_report", C.INVALID_PARAMETER, problem=problem))
        return
    event = StressReportRecorded(
        seq=seq,
        ts_ns=ts,
        report_hash=cmd.report_hash,
        as_of_seq=cmd.as_of_seq,
        as_of_state_hash=cmd.as_of_state_hash,
        library_version=cmd.library_version,
        scenarios=cmd.scenarios,
        insurance_fund=cmd.insurance_fund,
        capital_tranche=cmd.capital_tranche,
        worst_scenario=cmd.worst_scenario,
        worst_cover2_loss=cmd.worst_cover2_loss,
        worst_total_loss=cmd.worst_total_loss,
        worst_adl=cmd.worst_adl,
        cover2_failures=cmd.cover2_failures,
        risk_currency=cmd.risk_currency,
        cover2_covered=cmd.cover2_failures == 0,
    )
    st.stress_report = event
    out.append(event)
