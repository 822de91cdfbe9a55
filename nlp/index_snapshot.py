"""Customer index snapshots on disk: one checksummed file, written atomically, memory-mapped."""

from __future__ import annotations

import contextlib
import hashlib
import json
import mmap
import os
import secrets
import struct
import sys
import time
import unicodedata
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nlp import customer_index, customer_scoring, index_arrays, index_structures, text_normal
from nlp.index_arrays import ARRAYS, Arrays

# File layout: MAGIC, header length and header CRC-32 (struct _PREFIX), the JSON header, then
# each array at a 64-byte aligned offset.  The header names the format, the code that made the
# arrays, the caller's metadata and each array's type, length, offset and CRC-32.
MAGIC = b"CRMINDEX"
FORMAT = 1
_PREFIX = struct.Struct("<8sQI")
_ALIGN = 64
_READ_CHUNK = 4 << 20
# Temporary files of a writer that died are removed once they are this old.
STALE_TEMPORARY_SECONDS = 3600


class SnapshotRejected(Exception):
    """A snapshot that must not be used: missing, damaged, or made by other code or for
    another store.  The message says which, for the log."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    arrays: dict[str, NDArray[Any]]
    meta: dict[str, Any]


def _code_fingerprint() -> str:
    """What the saved arrays depend on: this format, the modules that normalise, build and
    read them, and the Unicode tables that normalisation uses.  Any change makes older
    snapshots unusable, so a new release never searches arrays built by old rules."""
    digest = hashlib.sha256(f"{FORMAT}:{unicodedata.unidata_version}:{sys.byteorder}".encode())
    for module in (customer_index, customer_scoring, index_arrays, index_structures, text_normal):
        try:
            digest.update(Path(module.__file__ or "").read_bytes())
        except OSError:  # no source next to the bytecode: the module name has to do
            digest.update(module.__name__.encode())
    return digest.hexdigest()[:32]


CODE = _code_fingerprint()


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


def _layout(arrays: Arrays, start: int) -> Iterator[tuple[str, NDArray[Any], int]]:
    offset = start
    for name in ARRAYS:
        array = np.ascontiguousarray(arrays[name])
        offset = _aligned(offset)
        yield name, array, offset
        offset += array.nbytes


def _bytes(array: NDArray[Any]) -> memoryview:
    return array.data.cast("B")


def _header(arrays: Arrays, meta: Mapping[str, Any], data_start: int) -> dict[str, Any]:
    entries: dict[str, dict[str, Any]] = {}
    size = data_start
    for name, array, offset in _layout(arrays, data_start):
        entries[name] = {
            "dtype": array.dtype.str,
            "length": len(array),
            "offset": offset,
            "crc32": zlib.crc32(_bytes(array)),
        }
        size = max(size, offset + array.nbytes)
    return {"format": FORMAT, "code": CODE, "meta": dict(meta), "arrays": entries, "size": size}


def save_snapshot(path: Path, arrays: Arrays, meta: Mapping[str, Any]) -> None:
    """Write ``arrays`` with ``meta`` (JSON values) to ``path`` atomically: a temporary file in
    the same directory, flushed to disk, then renamed over the old one.  A reader holding the
    old file keeps it until it lets go; nobody ever sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The header holds the offsets, which depend on the header's own length: a fixed
    # reserve for it keeps that simple (a header is a few kilobytes).
    reserve = _aligned(_PREFIX.size + 4096 + len(json.dumps(dict(meta))))
    header = json.dumps(_header(arrays, meta, reserve)).encode()
    if _PREFIX.size + len(header) > reserve:
        raise ValueError("snapshot header larger than its reserve")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(_PREFIX.pack(MAGIC, len(header), zlib.crc32(header)))
            handle.write(header)
            position = _PREFIX.size + len(header)
            for _, array, offset in _layout(arrays, reserve):
                handle.write(b"\0" * (offset - position))
                handle.write(_bytes(array))
                position = offset + array.nbytes
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash once the directory is synced
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _read_header(handle: BufferedReader) -> dict[str, Any]:
    prefix = handle.read(_PREFIX.size)
    if len(prefix) != _PREFIX.size:
        raise SnapshotRejected("truncated header")
    magic, length, crc = _PREFIX.unpack(prefix)
    if magic != MAGIC or length > 1 << 20:
        raise SnapshotRejected("not a customer index snapshot")
    raw = handle.read(length)
    if len(raw) != length or zlib.crc32(raw) != crc:
        raise SnapshotRejected("damaged header")
    try:
        header = json.loads(raw)
    except ValueError:
        raise SnapshotRejected("damaged header") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SnapshotRejected(f"format {header.get('format') if isinstance(header, dict) else '?'}")
    if header.get("code") != CODE:
        raise SnapshotRejected("made by another version of the index code")
    return header


def snapshot_meta(path: Path) -> dict[str, Any] | None:
    """The metadata of a usable-looking snapshot at ``path`` (header only, not checksummed
    data), or None when there is none."""
    try:
        with open(path, "rb") as handle:
            meta = _read_header(handle).get("meta")
    except (OSError, SnapshotRejected):
        return None
    return meta if isinstance(meta, dict) else None


def _entries(header: dict[str, Any], size: int) -> dict[str, tuple[np.dtype[Any], int, int, int]]:
    arrays = header.get("arrays")
    if header.get("size") != size or not isinstance(arrays, dict) or set(arrays) != set(ARRAYS):
        raise SnapshotRejected("size or array list does not match")
    entries = {}
    for name, dtype in ARRAYS.items():
        entry = arrays[name]
        try:
            kind = np.dtype(entry["dtype"])
            length, offset, crc = int(entry["length"]), int(entry["offset"]), int(entry["crc32"])
        except (KeyError, TypeError, ValueError):
            raise SnapshotRejected(f"{name}: damaged entry") from None
        if kind != np.dtype(dtype) or length < 0 or offset % _ALIGN or offset + length * kind.itemsize > size:
            raise SnapshotRejected(f"{name}: entry out of bounds")
        entries[name] = (kind, length, offset, crc)
    return entries


def _verify(handle: BufferedReader, entries: dict[str, tuple[np.dtype[Any], int, int, int]]) -> None:
    """Check every array's CRC-32 by reading the file (not the mapping, so the check adds
    nothing to this process's resident memory; it warms the page cache for the mapping)."""
    buffer = bytearray(_READ_CHUNK)
    for name, (kind, length, offset, crc) in entries.items():
        handle.seek(offset)
        left = length * kind.itemsize
        running = 0
        while left:
            view = memoryview(buffer)[: min(left, _READ_CHUNK)]
            got = handle.readinto(view)
            if not got:
                raise SnapshotRejected(f"{name}: truncated")
            running = zlib.crc32(view[:got], running)
            left -= got
        if running != crc:
            raise SnapshotRejected(f"{name}: checksum mismatch")


def read_snapshot(path: Path, *, expect: Mapping[str, Any]) -> Snapshot:
    """The verified snapshot at ``path``, its arrays memory-mapped read-only.

    SnapshotRejected when the file is missing, not a snapshot, damaged (any checksum), made
    by other index code, or its metadata differs from ``expect`` (another store).  The file
    is checked and mapped through one open descriptor, so a writer renaming a new snapshot
    over it meanwhile cannot mix two files.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115  # closed below, after mapping
    except FileNotFoundError:
        raise SnapshotRejected("no snapshot") from None
    except OSError as exc:
        raise SnapshotRejected(f"unreadable: {exc.strerror or exc}") from None
    with handle:
        header = _read_header(handle)
        meta = header.get("meta")
        if not isinstance(meta, dict):
            raise SnapshotRejected("damaged metadata")
        for key, value in expect.items():
            if meta.get(key) != value:
                raise SnapshotRejected(f"{key} differs")
        size = os.fstat(handle.fileno()).st_size
        entries = _entries(header, size)
        _verify(handle, entries)
        mapping = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else None
    arrays = {
        name: np.frombuffer(mapping, dtype=kind, count=length, offset=offset)
        if mapping is not None and length
        else np.zeros(0, dtype=kind)
        for name, (kind, length, offset, _) in entries.items()
    }
    return Snapshot(arrays=arrays, meta=meta)


def remove_stale_temporaries(path: Path, *, older_than: float = STALE_TEMPORARY_SECONDS) -> None:
    """Temporary files that writers of ``path`` left behind when they died."""
    cutoff = time.time() - older_than
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
