"""Disclosure acknowledgements: which account acknowledged which disclosure version, and when.

regulation.md (c) item 15 asks for "client disclosures, with the version each client received
and when". The venue has no command for it (acknowledging changes nothing the engine decides
on), so the gateway keeps its own journal of them: ``AcknowledgeDisclosure`` records in a
``FileJournal`` (CRC, blake2b hash chain, fsync on commit), one file per venue history, next
to the venue's journal. An acknowledgement is answered only after its record is durable.

One venue history: the file name carries the chain hash of the venue journal's first record,
so a venue started afresh in the same directory starts a new acknowledgement log and never
shows the acknowledgements of another history (the old file is kept).

The log is opened for each write and closed again (the journal's exclusive lock is held only
while writing), and read once into memory on first use. Used only on the writer thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgspec

from harbour.journal import FileJournal, RecordKind
from harbour.journal.records import FILE_HEADER, FRAME_HEADER, GENESIS_CHAIN_HASH, chain_hash

LOG_PREFIX: Final = "disclosure-acknowledgements-"


class AcknowledgeDisclosure(msgspec.Struct, frozen=True, kw_only=True, tag="acknowledge_disclosure"):
    """An account acknowledged a disclosure version (journaled by the gateway, not the venue)."""

    account: int
    disclosure: str  # the disclosure's id ("rulebook")
    version: int
    content_hash: str  # 64 hex digits: the rules part the account acknowledged
    key_id: str  # the API key that sent the acknowledgement
    venue_seq: int  # the venue's last seq when acknowledged (the state the disclosure described)


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledgement:
    ack_id: int  # the record's seq in the acknowledgement journal
    ts_ns: int
    record: AcknowledgeDisclosure


def venue_genesis_hash(venue_journal: Path) -> str | None:
    """The chain hash of the venue journal's first record (hex), None before it exists."""
    try:
        with open(venue_journal, "rb") as file:
            head = file.read(FILE_HEADER.size + FRAME_HEADER.size)
            if len(head) < FILE_HEADER.size + FRAME_HEADER.size:
                return None
            body_len, _, _ = FRAME_HEADER.unpack_from(head, FILE_HEADER.size)
            body = file.read(body_len)
    except FileNotFoundError:
        return None
    if len(body) < body_len:
        return None
    return chain_hash(GENESIS_CHAIN_HASH, body).hex()


@dataclass(slots=True)
class AcknowledgementLog:
    """The gateway's journal of disclosure acknowledgements, with an in-memory index."""

    directory: Path
    venue_journal: Path
    _path: Path | None = None
    _rows: list[Acknowledgement] = field(default_factory=list)
    _by_account: dict[int, list[Acknowledgement]] = field(default_factory=dict)
    _last_seq: int = 0
    _last_ts_ns: int = 0
    _encoder: msgspec.msgpack.Encoder = field(default_factory=msgspec.msgpack.Encoder)
    _decoder: msgspec.msgpack.Decoder[AcknowledgeDisclosure] = field(
        default_factory=lambda: msgspec.msgpack.Decoder(AcknowledgeDisclosure)
    )

    def _ready(self) -> Path | None:
        if self._path is not None:
            return self._path
        genesis = venue_genesis_hash(self.venue_journal)
        if genesis is None:
            return None
        path = self.directory / f"{LOG_PREFIX}{genesis[:32]}.log"
        if path.exists():
            journal = FileJournal.open(path)
            try:
                for record in journal.records():
                    if record.kind is RecordKind.COMMAND:
                        self._index(Acknowledgement(ack_id=record.seq, ts_ns=record.ts_ns, record=self._decoder.decode(record.payload)))
                self._last_seq, self._last_ts_ns = journal.last_seq, journal.last_ts_ns
            finally:
                journal.close()
        self._path = path
        return path

    def _index(self, ack: Acknowledgement) -> None:
        self._rows.append(ack)
        self._by_account.setdefault(ack.record.account, []).append(ack)

    @property
    def path(self) -> Path | None:
        return self._ready()

    def all(self) -> list[Acknowledgement]:
        self._ready()
        return list(self._rows)

    def of(self, account: int) -> list[Acknowledgement]:
        self._ready()
        return list(self._by_account.get(account, ()))

    def find(self, account: int, disclosure: str, version: int, content_hash: str) -> Acknowledgement | None:
        for ack in self.of(account):
            r = ack.record
            if r.disclosure == disclosure and r.version == version and r.content_hash == content_hash:
                return ack
        return None

    def record(self, ack: AcknowledgeDisclosure, ts_ns: int) -> Acknowledgement:
        """Journal ``ack`` and return it once durable (write and fsync)."""
        path = self._ready()
        if path is None:
            raise RuntimeError("the venue journal has no record yet")
        seq = self._last_seq + 1
        ts = max(ts_ns, self._last_ts_ns)
        journal = FileJournal.open(path)
        try:
            journal.append_command(seq, ts, self._encoder.encode(ack))
            journal.commit()
        finally:
            journal.close()
        self._last_seq, self._last_ts_ns = seq, ts
        done = Acknowledgement(ack_id=seq, ts_ns=ts, record=ack)
        self._index(done)
        return done
