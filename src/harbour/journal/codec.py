"""``CommandCodec``: commands to journal payload bytes and back.

Owns the wire form of commands inside the journal: MessagePack via msgspec, for one
closed union of tagged, frozen ``msgspec.Struct`` command classes (for example
``CommandCodec(VenueCommand)`` with ``VenueCommand = PlaceOrder | CancelOrder``).

Invariants:

* Every member of the union is a frozen, tagged ``msgspec.Struct`` (checked when the
  codec is built).
* Only members of the union are encoded (checked on every ``encode``): anything
  else would be journaled and then fail to decode on replay.
* ``decode(encode(c)) == c`` for every command ``c`` of the union.
* Encoding is deterministic: struct fields in declaration order, dict and set
  contents sorted, so the same command always gives the same bytes (and so the same
  chain hash).
* Changing a command class changes the journal format: a journal is replayed with
  the codec of the union it was written with.
"""

from __future__ import annotations

from typing import Any, get_args

import msgspec

from harbour.kernel.errors import MalformedCommand


class CommandCodec:
    """Encode and decode the commands of one tagged union."""

    def __init__(self, command_type: Any) -> None:
        """Build the codec for ``command_type``: a tagged Struct or a union of them."""
        self._command_type = command_type
        self._members = _struct_members(command_type)
        # exact types only: an O(1) membership test on the hot path
        self._member_types = frozenset(self._members)
        self._encoder = msgspec.msgpack.Encoder(order="deterministic")
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(command_type)

    @property
    def command_type(self) -> Any:
        """The union (or single Struct class) this codec reads and writes."""
        return self._command_type

    def encode(self, command: Any) -> bytes:
        """Return the payload bytes of ``command``; raise TypeError if it is not in the union."""
        if type(command) not in self._member_types:
            raise TypeError(f"{type(command).__name__} is not a member of {self._command_type}")
        return self._encoder.encode(command)

    def encode_checked(self, command: Any) -> tuple[bytes, Any]:
        """Return the payload of ``command`` and the command decoded back from it.

        msgspec does not type-check a Struct's constructor, so a command built in
        process can carry a field of the wrong type (a float quantity, say) that the
        typed decoder would refuse on replay. Decoding the payload here proves it will
        replay, and the decoded command is the one to apply: exactly what replay applies.
        Raises ``MalformedCommand`` if the payload does not decode to a valid command.
        """
        payload = self.encode(command)
        try:
            return payload, self._decoder.decode(payload)
        except msgspec.DecodeError as error:
            raise MalformedCommand(f"{type(command).__name__}: {error}") from error

    def decode(self, payload: bytes) -> Any:
        """Return the command in ``payload``; raise ``msgspec.DecodeError`` (or its
        subclass ``msgspec.ValidationError``) if it is not a member of the union."""
        return self._decoder.decode(payload)


def _struct_members(command_type: Any) -> tuple[type[msgspec.Struct], ...]:
    """Return the classes of the union, checking each is a frozen, tagged Struct."""
    members = get_args(command_type) or (command_type,)
    for member in members:
        if not (isinstance(member, type) and issubclass(member, msgspec.Struct)):
            raise TypeError(f"{member!r} is not a msgspec.Struct class")
        config = member.__struct_config__
        if not config.frozen or config.tag is None:
            raise TypeError(f"{member.__name__} must be declared with frozen=True and tag=True")
    return tuple(members)
