"""CommandCodec: round trips, determinism and refusal of foreign types."""

from __future__ import annotations

import msgspec
import pytest

from harbour.journal import CommandCodec

from toy_engine import Add, Delete, Explode, Put, ToyCommand


class Transfer(msgspec.Struct, frozen=True, tag=True):
    amounts_minor: dict[str, int]
    memo: str | None = None


class Halt(msgspec.Struct, frozen=True, tag=True):
    reason: str


class Untagged(msgspec.Struct, frozen=True):
    value: int


class Mutable(msgspec.Struct, tag=True):
    value: int


@pytest.mark.parametrize(
    "command",
    [Put("k", 7), Put("k", -(2**63)), Add("key-with-ü", 2**62), Delete(""), Explode()],
)
def test_codec_toy_command_round_trips(command: ToyCommand) -> None:
    codec = CommandCodec(ToyCommand)

    decoded = codec.decode(codec.encode(command))

    assert decoded == command
    assert type(decoded) is type(command)


def test_codec_own_union_round_trips() -> None:
    codec = CommandCodec(Transfer | Halt)
    commands = [Transfer({"HKD": 5, "USD": -5}, "fee"), Halt("maintenance")]

    decoded = [codec.decode(codec.encode(command)) for command in commands]

    assert decoded == commands


def test_codec_dict_insertion_order_same_bytes() -> None:
    codec = CommandCodec(Transfer | Halt)

    first = codec.encode(Transfer({"HKD": 5, "USD": -5}))
    second = codec.encode(Transfer({"USD": -5, "HKD": 5}))

    assert first == second


def test_codec_command_outside_union_raises_type_error() -> None:
    codec = CommandCodec(Transfer | Halt)

    with pytest.raises(TypeError):
        codec.encode(Put("k", 1))


def test_codec_payload_of_other_union_raises_validation_error() -> None:
    codec = CommandCodec(Transfer | Halt)
    foreign = CommandCodec(ToyCommand).encode(Put("k", 1))

    with pytest.raises(msgspec.ValidationError):
        codec.decode(foreign)


def test_codec_garbage_payload_raises_decode_error() -> None:
    codec = CommandCodec(ToyCommand)

    with pytest.raises(msgspec.DecodeError):
        codec.decode(b"\xc1\xff\x00")


@pytest.mark.parametrize("member", [Untagged, Mutable, int])
def test_codec_union_member_not_frozen_tagged_struct_raises_type_error(member: type) -> None:
    with pytest.raises(TypeError):
        CommandCodec(Halt | member)
