"""The checks every engine test driver (venue and broker) runs after each command."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def transfer_nets(postings: Sequence[tuple[object, str, int]]) -> dict[str, int]:
    """Net amount per asset of a transfer's postings (zero for a balanced transfer)."""
    net: dict[str, int] = {}
    for _, asset, amount in postings:
        net[asset] = net.get(asset, 0) + amount
    return net


def assert_step_well_formed(
    cmd: object,
    out: Sequence[object],
    seq: int,
    ts: int,
    *,
    rejected_type: type,
    transfer_type: type,
    hash_before: bytes | None,
    hash_now: Callable[[], bytes],
) -> None:
    """Every event carries its command's seq and ts; every transfer balances per asset;
    a rejected command emits only its reject and (when ``hash_before`` is given) leaves
    the state hash unchanged."""
    for e in out:
        assert (e.seq, e.ts_ns) == (seq, ts), f"event {e!r} not stamped with its command"  # type: ignore[attr-defined]
        if isinstance(e, transfer_type):
            assert all(v == 0 for v in transfer_nets(e.postings).values()), f"unbalanced transfer {e!r}"  # type: ignore[attr-defined]
    if any(isinstance(e, rejected_type) for e in out):
        assert len(out) == 1, f"a rejected command emitted more than its reject: {out!r}"
        if hash_before is not None:
            assert hash_now() == hash_before, f"rejected command {cmd!r} changed state"
