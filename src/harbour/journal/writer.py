"""``FileJournal``: the local, append-only journal file with group commit.

Owns one journal file (format in ``records``) and is its only writer: ``open``
takes an exclusive ``flock`` on it, so a second writer (another process, or a
replay run against a live journal) fails with ``JournalLocked`` instead of
truncating or interleaving records.

``FileJournal`` implements the ``Journal`` protocol (in ``log``), which names
exactly the methods the sequencer and recovery use, so a replicated log can later
take its place.

Invariants:

* ``open`` verifies the whole file (checks, chain, ordering) before any append. A torn
  tail is truncated away and reported in ``torn_bytes_truncated``: it was never
  acknowledged, since its fsync never returned. Any other damage raises
  ``JournalCorrupt``.
* Appends only touch an in-memory buffer. ``commit`` writes the buffer, then fsyncs
  once: everything appended since the previous commit becomes durable together
  (group commit). A record is acknowledged only once ``commit`` has returned.
* After a failed write or fsync the journal refuses further use (``JournalFailed``):
  the kernel may have dropped the dirty pages, so retrying the fsync could report a
  success that is not real. Reopen the file to recover.
* ``records`` reads only committed bytes and verifies them again as it goes.
"""

from __future__ import annotations

import fcntl
import logging
import os
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Final

from harbour.journal._files import fsync_directory
from harbour.journal.reader import ChainPosition, RecordScanner
from harbour.journal.records import (
    FILE_HEADER,
    FILE_MAGIC,
    FORMAT_VERSION,
    GENESIS_CHAIN_HASH,
    JournalRecord,
    RecordKind,
    encode_frame,
    file_header,
)
from harbour.kernel.errors import JournalCorrupt, JournalFailed, JournalLocked

_log = logging.getLogger(__name__)

_COMMAND: Final = int(RecordKind.COMMAND)
_CHECKPOINT: Final = int(RecordKind.CHECKPOINT)

INDEX_EVERY_COMMANDS: Final = 1024
"""How many command records lie between two entries of the in-memory seek index."""


class FileJournal:
    """The journal file: verified on open, appended in memory, made durable by ``commit``."""

    def __init__(self, path: Path, fd: int, end: ChainPosition, torn_bytes: int) -> None:
        """Adopt an already verified and locked file; use ``FileJournal.open`` instead."""
        self._path = path
        self._fd = fd
        self._durable_end = end.offset
        self._last_chain = end.chain_hash
        self._last_seq = end.last_seq
        self._last_ts_ns = end.last_ts_ns
        self._torn_bytes = torn_bytes
        self._buffer = bytearray()
        self._is_writable = True
        self._failure: BaseException | None = None
        self._commands_since_index = 0
        self._index_seqs: list[int] = []
        self._index_positions: list[ChainPosition] = []

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> FileJournal:
        """Open or create the journal at ``path``, verify it and truncate a torn tail."""
        journal_path = Path(path)
        is_new = not journal_path.exists()
        fd = os.open(journal_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd, journal_path)
            _check_file_header(fd, journal_path)
            if is_new:
                fsync_directory(journal_path.parent)
            journal = cls._verified(journal_path, fd)
        except BaseException:
            os.close(fd)
            raise
        return journal

    @classmethod
    def _verified(cls, path: Path, fd: int) -> FileJournal:
        size = os.fstat(fd).st_size
        start = _start_position()
        index_seqs: list[int] = []
        index_positions: list[ChainPosition] = []
        commands_since_index = 0
        with open(path, "rb") as file:
            scanner = RecordScanner(file, start, size)
            prev_seq, prev_ts = start.last_seq, start.last_ts_ns
            for offset, record in scanner:
                if record.kind is RecordKind.COMMAND:
                    commands_since_index += 1
                    if commands_since_index == INDEX_EVERY_COMMANDS:
                        commands_since_index = 0
                        index_seqs.append(record.seq)
                        index_positions.append(
                            ChainPosition(
                                offset=offset,
                                chain_hash=record.prev_chain_hash,
                                last_seq=prev_seq,
                                last_ts_ns=prev_ts,
                            )
                        )
                prev_seq, prev_ts = record.seq, record.ts_ns
        end = scanner.position
        if scanner.torn_bytes:
            os.ftruncate(fd, end.offset)
            os.fsync(fd)
            _log.warning(
                "journal %s: truncated a torn tail of %d bytes after seq %d",
                path,
                scanner.torn_bytes,
                end.last_seq,
            )
        os.lseek(fd, end.offset, os.SEEK_SET)
        journal = cls(path, fd, end, scanner.torn_bytes)
        journal._index_seqs = index_seqs
        journal._index_positions = index_positions
        journal._commands_since_index = commands_since_index
        return journal

    @property
    def path(self) -> Path:
        """Where the journal file lives."""
        return self._path

    @property
    def last_seq(self) -> int:
        """Seq of the last appended record, committed or not (0 for an empty journal)."""
        return self._last_seq

    @property
    def last_ts_ns(self) -> int:
        """ts_ns of the last appended record (0 for an empty journal)."""
        return self._last_ts_ns

    @property
    def last_chain_hash(self) -> bytes:
        """Chain hash of the last appended record (the genesis hash for an empty journal)."""
        return self._last_chain

    @property
    def torn_bytes_truncated(self) -> int:
        """Length of the torn tail ``open`` cut off (0 if the file ended cleanly)."""
        return self._torn_bytes

    @property
    def has_pending(self) -> bool:
        """Whether records have been appended since the last ``commit``."""
        return bool(self._buffer)

    def append_command(self, seq: int, ts_ns: int, payload: bytes) -> None:
        """Buffer a COMMAND record. Raise ValueError if seq or ts_ns would go backwards."""
        if seq <= self._last_seq or ts_ns < self._last_ts_ns or not self._is_writable:
            self._refuse(RecordKind.COMMAND, seq, ts_ns)
        prev_chain = self._last_chain
        frame, self._last_chain = encode_frame(_COMMAND, seq, ts_ns, prev_chain, payload)
        self._commands_since_index += 1
        if self._commands_since_index == INDEX_EVERY_COMMANDS:
            self._commands_since_index = 0
            self._index_seqs.append(seq)
            self._index_positions.append(
                ChainPosition(
                    offset=self._durable_end + len(self._buffer),
                    chain_hash=prev_chain,
                    last_seq=self._last_seq,
                    last_ts_ns=self._last_ts_ns,
                )
            )
        self._buffer += frame
        self._last_seq = seq
        self._last_ts_ns = ts_ns

    def append_checkpoint(self, seq: int, ts_ns: int, state_hash: bytes) -> None:
        """Buffer a CHECKPOINT record taken after the command ``seq`` (the last one)."""
        if seq != self._last_seq or ts_ns < self._last_ts_ns or not self._is_writable:
            self._refuse(RecordKind.CHECKPOINT, seq, ts_ns)
        frame, self._last_chain = encode_frame(
            _CHECKPOINT, seq, ts_ns, self._last_chain, state_hash
        )
        self._buffer += frame
        self._last_ts_ns = ts_ns

    def commit(self) -> None:
        """Write everything appended since the last commit, then fsync once."""
        self._check_usable()
        if not self._buffer:
            return
        try:
            with memoryview(self._buffer) as pending:
                written = 0
                while written < len(pending):
                    written += os.write(self._fd, pending[written:])
            os.fsync(self._fd)
        except BaseException as error:
            self._failure = error
            self._is_writable = False
            raise
        self._durable_end += len(self._buffer)
        self._buffer.clear()

    def records(self, after_seq: int = 0) -> Iterator[JournalRecord]:
        """Yield committed records with seq greater than ``after_seq``, verifying them."""
        self._check_usable()
        end = self._durable_end
        slot = bisect_right(self._index_seqs, after_seq + 1) - 1
        start = self._index_positions[slot] if slot >= 0 else _start_position()
        return self._read(start, end, after_seq)

    def close(self) -> None:
        """Commit what is pending, release the lock and close the file. Idempotent."""
        if self._fd < 0:
            return
        try:
            if self._failure is None:
                self.commit()
        finally:
            self._is_writable = False
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileJournal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, start: ChainPosition, end: int, after_seq: int) -> Iterator[JournalRecord]:
        with open(self._path, "rb") as file:
            scanner = RecordScanner(file, start, end)
            for _, record in scanner:
                if record.seq > after_seq:
                    yield record
            if scanner.torn_bytes:
                raise JournalCorrupt(f"committed bytes of {self._path} changed after open")

    def _check_usable(self) -> None:
        if self._failure is not None:
            raise JournalFailed(f"journal {self._path} failed earlier: {self._failure!r}")
        if self._fd < 0:
            raise ValueError(f"journal {self._path} is closed")

    def _refuse(self, kind: RecordKind, seq: int, ts_ns: int) -> None:
        self._check_usable()
        if kind is RecordKind.COMMAND and seq <= self._last_seq:
            raise ValueError(f"command seq {seq} does not exceed last seq {self._last_seq}")
        if kind is RecordKind.CHECKPOINT and seq != self._last_seq:
            raise ValueError(f"checkpoint seq {seq} is not the last seq {self._last_seq}")
        raise ValueError(f"ts_ns {ts_ns} is before last ts_ns {self._last_ts_ns}")


def _start_position() -> ChainPosition:
    return ChainPosition(
        offset=FILE_HEADER.size, chain_hash=GENESIS_CHAIN_HASH, last_seq=0, last_ts_ns=0
    )


def _lock(fd: int, path: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalLocked(f"journal {path} is open elsewhere") from None


def _check_file_header(fd: int, path: Path) -> None:
    """Verify the magic and version; write them if the file is new or its creation tore."""
    expected = file_header()
    size = os.fstat(fd).st_size
    found = os.pread(fd, FILE_HEADER.size, 0)
    if size < FILE_HEADER.size:
        if found != expected[:size]:
            raise JournalCorrupt(f"{path} is not a journal file")
        os.ftruncate(fd, 0)
        os.pwrite(fd, expected, 0)
        os.fsync(fd)
        return
    magic, version = FILE_HEADER.unpack(found)
    if magic != FILE_MAGIC:
        raise JournalCorrupt(f"{path} is not a journal file")
    if version != FORMAT_VERSION:
        raise JournalCorrupt(f"{path} has journal format {version}, expected {FORMAT_VERSION}")
