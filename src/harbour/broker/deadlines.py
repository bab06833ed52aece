"""Margin-call deadlines (M4), from the command's timestamp only.

Owns the deadline arithmetic. Hong Kong time is UTC+8 all year (no daylight saving).

* Securities-driven call: the next HK business day's cut-off (house default 12:00 HKT).
* VA-driven call: the earlier of ts + ``va_call_deadline_ns`` (house default 24 h) and
  that same cut-off.
* The SMF extract's validity (C2/C5 data currency, ``limits.smf_extract_expiry_ns``)
  uses the same business-day arithmetic with its own cut-off.

A business day here is Monday to Friday that is not in ``config.hk_holidays`` (days
since 1970-01-01 in HKT). The HKEX trading calendar itself (typhoon/black-rainstorm
closures, half days) is not modelled yet: the operator loads public holidays through
``ConfigureBroker``.
"""

from __future__ import annotations

import datetime
from typing import Final

from harbour.broker.clients import CAUSE_VIRTUAL_ASSET
from harbour.broker.config import BrokerConfig

NS_PER_MINUTE: Final = 60 * 10**9
DAY_NS: Final = 24 * 60 * NS_PER_MINUTE
HKT_OFFSET_NS: Final = 8 * 60 * NS_PER_MINUTE
_EPOCH_WEEKDAY: Final = 3  # 1970-01-01 was a Thursday (Monday = 0)


def hkt_date(ts_ns: int) -> datetime.date:
    """The HKT calendar date of ``ts_ns``."""
    return datetime.date(1970, 1, 1) + datetime.timedelta(days=(ts_ns + HKT_OFFSET_NS) // DAY_NS)


def hkt_text(ts_ns: int) -> str:
    """``ts_ns`` as HKT wall-clock time to the second, for messages (YYYY-MM-DD HH:MM:SS HKT)."""
    seconds = (ts_ns + HKT_OFFSET_NS) // 10**9 % 86_400
    return f"{hkt_date(ts_ns).isoformat()} {seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d} HKT"


def is_hk_business_day(day: int, config: BrokerConfig) -> bool:
    """Whether HKT day number ``day`` (days since 1970-01-01) is a weekday and no holiday."""
    return (day + _EPOCH_WEEKDAY) % 7 < 5 and day not in config.hk_holidays


def business_day_cutoff_ns(ts_ns: int, business_days: int, minutes_hkt: int, config: BrokerConfig) -> int:
    """``minutes_hkt`` after midnight HKT (as UTC ns) on the ``business_days``-th HK business day after the HKT day of ``ts_ns``."""
    day = (ts_ns + HKT_OFFSET_NS) // DAY_NS
    for _ in range(business_days):
        day += 1
        while not is_hk_business_day(day, config):
            day += 1
    return day * DAY_NS + minutes_hkt * NS_PER_MINUTE - HKT_OFFSET_NS


def next_business_day_cutoff_ns(ts_ns: int, config: BrokerConfig) -> int:
    """The call cut-off time (UTC ns) on the first HK business day after the HKT day of ``ts_ns``."""
    return business_day_cutoff_ns(ts_ns, 1, config.call_cutoff_minutes_hkt, config)


def call_deadline_ns(ts_ns: int, cause: str, config: BrokerConfig) -> int:
    """When a call issued at ``ts_ns`` falls due, by what caused it (M4)."""
    cutoff = next_business_day_cutoff_ns(ts_ns, config)
    if cause == CAUSE_VIRTUAL_ASSET:
        return min(ts_ns + config.va_call_deadline_ns, cutoff)
    return cutoff
