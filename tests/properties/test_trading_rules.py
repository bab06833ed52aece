"""Trading rules hold on every fill of long random command streams (see rules.py)."""

from __future__ import annotations

from typing import Any

from hypothesis import given

from properties.profile import examples
from properties.rules import RuleWatch
from properties.streams import Setup, commands_for, open_accounts, setups, streams
from venue.helpers import Venue

MATCHING_RULES = ("stp", "post_only", "halted", "price", "fees", "reduce_only", "fok", "trade_ids")
EXPOSURE_RULES = ("close_only", "pi_gate")


def _broken_rules(setup: Setup, stream: list[tuple[Any, ...]], rules: tuple[str, ...]) -> list[str]:
    v = Venue(check_rejects=False)
    open_accounts(v, setup)
    watch = RuleWatch()
    broken: list[str] = []
    for intent in stream:
        for command in commands_for(v, intent):
            broken += [b for b in watch.step(v, command) if b.split(":")[0] in rules]
    return broken


@examples(100)
@given(setup=setups(), stream=streams(max_size=90))
def test_random_streams_obey_stp_post_only_halt_price_fee_reduce_only_and_fok_rules(setup: Setup, stream: list[tuple[Any, ...]]) -> None:
    broken = _broken_rules(setup, stream, MATCHING_RULES)

    assert broken == []


@examples(100)
@given(setup=setups(), stream=streams(max_size=90))
def test_random_streams_never_grow_a_position_while_close_only_or_pi_expired(setup: Setup, stream: list[tuple[Any, ...]]) -> None:
    broken = _broken_rules(setup, stream, EXPOSURE_RULES)

    assert broken == []
