"""A tiny deterministic key-value engine for the journal tests.

It meets the ``Engine`` / ``EngineFactory`` protocols and nothing more: integer
values under string keys, the running total of every applied add, and the seq and
ts of the last command it applied (so replay with wrong seqs or timestamps changes
the state hash). ``add_bias`` makes a deliberately different engine, for mismatch
tests: its adds are off by the bias, and the running total never forgets it.
"""

from __future__ import annotations

from hashlib import blake2b

import msgspec


class Put(msgspec.Struct, frozen=True, tag=True):
    key: str
    value: int


class Add(msgspec.Struct, frozen=True, tag=True):
    key: str
    delta: int


class Delete(msgspec.Struct, frozen=True, tag=True):
    key: str


class Explode(msgspec.Struct, frozen=True, tag=True):
    """A command the engine cannot handle: stands in for an engine bug."""


ToyCommand = Put | Add | Delete | Explode


class ValueSet(msgspec.Struct, frozen=True, tag=True):
    seq: int
    ts_ns: int
    key: str
    value: int


class KeyDeleted(msgspec.Struct, frozen=True, tag=True):
    seq: int
    ts_ns: int
    key: str


class CommandRejected(msgspec.Struct, frozen=True, tag=True):
    seq: int
    ts_ns: int
    key: str
    reason: str


ToyEvent = ValueSet | KeyDeleted | CommandRejected


class _ToyState(msgspec.Struct, frozen=True):
    values: list[tuple[str, int]]
    total_added: int
    last_seq: int
    last_ts_ns: int


_encoder = msgspec.msgpack.Encoder()
_state_decoder = msgspec.msgpack.Decoder(_ToyState)


class ToyEngine:
    def __init__(self, state: _ToyState | None = None, add_bias: int = 0) -> None:
        self._values: dict[str, int] = dict(state.values) if state else {}
        self._total_added = state.total_added if state else 0
        self._last_seq = state.last_seq if state else 0
        self._last_ts_ns = state.last_ts_ns if state else 0
        self._add_bias = add_bias

    @property
    def values(self) -> dict[str, int]:
        return dict(self._values)

    def apply(self, seq: int, ts_ns: int, command: ToyCommand) -> list[ToyEvent]:
        self._last_seq = seq
        self._last_ts_ns = ts_ns
        if isinstance(command, Put):
            self._values[command.key] = command.value
            return [ValueSet(seq, ts_ns, command.key, command.value)]
        if isinstance(command, Add):
            if command.key not in self._values:
                return [CommandRejected(seq, ts_ns, command.key, "unknown key")]
            delta = command.delta + self._add_bias
            value = self._values[command.key] + delta
            self._total_added += delta
            self._values[command.key] = value
            return [ValueSet(seq, ts_ns, command.key, value)]
        if isinstance(command, Delete):
            if self._values.pop(command.key, None) is None:
                return [CommandRejected(seq, ts_ns, command.key, "unknown key")]
            return [KeyDeleted(seq, ts_ns, command.key)]
        raise RuntimeError(f"toy engine cannot apply {command!r}")

    def state_hash(self) -> bytes:
        return blake2b(_encoder.encode(self._state()), digest_size=32).digest()

    def snapshot(self) -> bytes:
        return _encoder.encode(self._state())

    def _state(self) -> _ToyState:
        return _ToyState(
            sorted(self._values.items()), self._total_added, self._last_seq, self._last_ts_ns
        )


class ToyEngineFactory:
    def __init__(self, add_bias: int = 0) -> None:
        self._add_bias = add_bias

    def new(self) -> ToyEngine:
        return ToyEngine(add_bias=self._add_bias)

    def restore(self, data: bytes) -> ToyEngine:
        return ToyEngine(_state_decoder.decode(data), add_bias=self._add_bias)


def make_commands(start: int, count: int) -> list[ToyCommand]:
    """Return a deterministic stream of commands; ``start`` picks where it begins.

    Runs of five commands touch keys k0..k4 with the same action (put, add, add,
    add, delete, put, ...), so most adds find their key; every 13th command adds to
    a key that never exists, a business reject.
    """
    commands: list[ToyCommand] = []
    for i in range(start, start + count):
        key = f"k{i % 5}"
        selector = (i // 5) % 6
        if i % 13 == 12:
            commands.append(Add("missing", 1))
        elif selector in (0, 1):
            commands.append(Put(key, i))
        elif selector in (2, 3, 4):
            commands.append(Add(key, i % 17 - 8))
        else:
            commands.append(Delete(key))
    return commands
