"""``SnapshotStore``: engine snapshots on disk, written atomically, verified on load.

Owns one directory of snapshot files named ``<seq, 20 digits>.snapshot``. Each file::

    magic b"HBRSNP" | version u16 | seq u64 | chain_hash (32 bytes) | state_len u64
    | state | checksum (blake2b-256 of everything before it)

Invariants:

* A snapshot file is either absent or complete: it is written to a temporary file,
  fsynced, renamed into place, and the directory is fsynced.
* ``seq`` is the last command applied to the state; ``chain_hash`` is the journal's
  last chain hash at that point, which anchors the snapshot to exactly one journal
  history (recovery checks it).
* ``latest`` returns the newest snapshot whose checksum verifies, skipping damaged
  ones; only the newest ``keep`` files are kept.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from typing import Final

from harbour.journal._files import fsync_directory
from harbour.journal.records import CHAIN_HASH_SIZE

_log = logging.getLogger(__name__)

SNAPSHOT_MAGIC: Final = b"HBRSNP"
SNAPSHOT_VERSION: Final = 1
SNAPSHOT_SUFFIX: Final = ".snapshot"
_HEADER: Final = struct.Struct("<6sHQ32sQ")
_CHECKSUM_SIZE: Final = 32
_TMP_SUFFIX: Final = ".tmp"


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """Engine state as of the command ``seq``, tied to the journal by ``chain_hash``."""

    seq: int
    chain_hash: bytes
    state: bytes


class SnapshotStore:
    """A directory of snapshots; creates the directory if it is missing."""

    def __init__(self, directory: str | os.PathLike[str], keep: int = 3) -> None:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        self._directory = Path(directory)
        self._keep = keep
        self._directory.mkdir(parents=True, exist_ok=True)

    @property
    def directory(self) -> Path:
        """Where the snapshot files live."""
        return self._directory

    def save(self, seq: int, chain_hash: bytes, state: bytes) -> Path:
        """Write a snapshot atomically and durably, prune old ones, return its path."""
        if len(chain_hash) != CHAIN_HASH_SIZE:
            raise ValueError(f"chain_hash must be {CHAIN_HASH_SIZE} bytes, got {len(chain_hash)}")
        head = _HEADER.pack(SNAPSHOT_MAGIC, SNAPSHOT_VERSION, seq, chain_hash, len(state))
        checksum = _checksum(head, state)
        final_path = self._directory / _file_name(seq)
        tmp_path = final_path.with_name(final_path.name + _TMP_SUFFIX)
        with open(tmp_path, "wb") as file:
            file.write(head)
            file.write(state)
            file.write(checksum)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_path, final_path)
        fsync_directory(self._directory)
        self._prune()
        return final_path

    def latest(self) -> Snapshot | None:
        """Return the newest snapshot whose checksum verifies, or None if there is none."""
        for path in reversed(self._snapshot_paths()):
            snapshot = _load(path)
            if snapshot is not None:
                return snapshot
            _log.warning("snapshot %s failed verification; trying an older one", path)
        return None

    def _snapshot_paths(self) -> list[Path]:
        """Return the snapshot files, oldest first (names sort by seq)."""
        return sorted(self._directory.glob("*" + SNAPSHOT_SUFFIX))

    def _prune(self) -> None:
        stale = self._snapshot_paths()[: -self._keep]
        stale.extend(self._directory.glob("*" + SNAPSHOT_SUFFIX + _TMP_SUFFIX))
        for path in stale:
            path.unlink(missing_ok=True)


def _file_name(seq: int) -> str:
    return f"{seq:020d}{SNAPSHOT_SUFFIX}"


def _checksum(head: bytes, state: bytes) -> bytes:
    digest = blake2b(head, digest_size=_CHECKSUM_SIZE)
    digest.update(state)
    return digest.digest()


def _load(path: Path) -> Snapshot | None:
    """Return the snapshot in ``path``, or None if it is unreadable or fails its checks."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) < _HEADER.size + _CHECKSUM_SIZE:
        return None
    magic, version, seq, chain_hash, state_len = _HEADER.unpack_from(data)
    if magic != SNAPSHOT_MAGIC or version != SNAPSHOT_VERSION:
        return None
    if len(data) != _HEADER.size + state_len + _CHECKSUM_SIZE:
        return None
    head = data[: _HEADER.size]
    state = data[_HEADER.size : _HEADER.size + state_len]
    if _checksum(head, state) != data[-_CHECKSUM_SIZE:]:
        return None
    if path.name != _file_name(seq):
        return None
    return Snapshot(seq=seq, chain_hash=chain_hash, state=state)
