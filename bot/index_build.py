"""Customer index snapshots under the data directory, built by a child process (`-m bot.index_build`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

from handlers.lookup_index import BuiltIndex, Since, read_book
from nlp.customer_index import CustomerIndex
from nlp.index_arrays import BadArrays, build_arrays
from nlp.index_snapshot import (
    SnapshotRejected,
    read_snapshot,
    remove_stale_temporaries,
    save_snapshot,
)

_LOGGER = logging.getLogger(__name__)
# The child reads the store URL from here, not its command line, where `ps` would show a password.
URL_VARIABLE = "CRM_INDEX_BUILD_URL"
# How much of a failed child's stderr goes into the parent's log.
ERROR_TAIL = 2_000
# The child imports this very code, however the bot itself was started.
_CODE_ROOT = str(Path(__file__).resolve().parent.parent)


class IndexBuildFailed(RuntimeError):
    """The child process could not build the index; the message ends with what it printed."""


def snapshot_path(directory: Path, store_id: str) -> Path:
    return directory / f"customers-{store_id}.idx"


def _file_identity(path: Path) -> str:
    """Which file is at ``path`` now: a writer's rename changes it."""
    try:
        stat = path.stat()
    except OSError:
        return "none"
    return f"{stat.st_ino}:{stat.st_mtime_ns}"


def _expected(store_id: str, location: str) -> dict[str, str]:
    return {"store": store_id, "location": location}


class SnapshotIndexSource:
    """IndexSource over snapshot files in ``directory``, one per store, built by a child process.

    The build runs in a separate process (at lower CPU priority) so that neither its CPU work
    nor its memory lands on the bot's event loop or heap; the bot maps the finished file.
    ``location`` (a SQLite file's resolved path) must match too, so a copy of a database file
    used elsewhere never shares snapshots with the original.  Several replicas may share the
    directory: builds take turns on a lock, and one that finds a snapshot written while it
    waited uses that instead of building another.
    """

    def __init__(self, directory: Path, *, database_url: str, location: str = "") -> None:
        self.directory = directory
        self.database_url = database_url
        self.location = location
        self._process: asyncio.subprocess.Process | None = None

    async def load(self, store_id: str) -> BuiltIndex | None:
        path = snapshot_path(self.directory, store_id)
        try:
            return await asyncio.to_thread(self._read, path, store_id)
        except SnapshotRejected as exc:
            level = logging.INFO if str(exc) == "no snapshot" else logging.WARNING
            _LOGGER.log(level, "customer index snapshot %s not used: %s", path.name, exc)
            return None

    def _read(self, path: Path, store_id: str) -> BuiltIndex:
        started = time.monotonic()
        snapshot = read_snapshot(path, expect=_expected(store_id, self.location))
        try:
            index = CustomerIndex.from_arrays(snapshot.arrays, auto_rebuild=False)
            latest = snapshot.meta.get("latest")
            since = Since(
                latest=datetime.fromisoformat(latest) if latest else None,
                resume=datetime.fromisoformat(snapshot.meta["resume"]),
            )
        except (BadArrays, KeyError, TypeError, ValueError) as exc:
            raise SnapshotRejected(f"damaged contents ({exc})") from None
        _LOGGER.info(
            "customer index snapshot loaded: %s customers in %.2f s", len(index), time.monotonic() - started
        )
        return BuiltIndex(index=index, since=since)

    async def build(self, store_id: str) -> BuiltIndex:
        path = snapshot_path(self.directory, store_id)
        started = time.monotonic()
        env = dict(os.environ)
        env[URL_VARIABLE] = self.database_url
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_CODE_ROOT, env.get("PYTHONPATH", "")) if p)
        command = [sys.executable, "-m", "bot.index_build", str(path), store_id]
        command += ["--location", self.location, "--seen", _file_identity(path)]
        process = await asyncio.create_subprocess_exec(
            *command,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._process = process
        try:
            _, stderr = await process.communicate()
        except BaseException:
            await self.close()
            raise
        finally:
            self._process = None
        if process.returncode != 0:
            tail = stderr.decode(errors="replace")[-ERROR_TAIL:]
            raise IndexBuildFailed(f"index build exited with {process.returncode}: {tail}")
        built = await self.load(store_id)
        if built is None:
            raise IndexBuildFailed("the index build finished but its snapshot could not be read")
        _LOGGER.info("customer index built in the background in %.1f s", time.monotonic() - started)
        return built

    async def close(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=5)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build of ``path`` at a time, across the processes sharing its directory."""
    import fcntl

    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _exit_with_parent() -> None:
    """An orphaned build stops: nobody is waiting for it (a later start builds anew)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


async def build_snapshot(url: str, path: Path, *, store_id: str, location: str, seen: str) -> bool:
    """Build the index of the store at ``url`` into ``path``; False when a snapshot written
    by another process while this one waited for the lock made the work unnecessary."""
    from crm_store.store import Store

    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        if _file_identity(path) != seen:
            return False
        remove_stale_temporaries(path)
        store = Store.open(url)
        try:
            book = await read_book(store)
        finally:
            await store.close()
        arrays = build_arrays(book.records, book.ids)
        since = book.since
        del book
        meta = {
            **_expected(store_id, location),
            "latest": since.latest.isoformat() if since.latest is not None else None,
            "resume": since.resume.isoformat(),
            "customers": len(arrays["ids"]),
        }
        save_snapshot(path, arrays, meta)
    return True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build a customer index snapshot (run by the bot).")
    parser.add_argument("path", type=Path)
    parser.add_argument("store_id")
    parser.add_argument("--location", default="")
    parser.add_argument("--seen", default="none", help="the file the parent saw at PATH (inode:mtime)")
    args = parser.parse_args(argv)
    url = os.environ.get(URL_VARIABLE)
    if not url:
        parser.error(f"{URL_VARIABLE} is not set")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with contextlib.suppress(OSError):
        os.nice(10)  # the bot answering people comes first
    _exit_with_parent()
    asyncio.run(
        build_snapshot(url, args.path, store_id=args.store_id, location=args.location, seen=args.seen)
    )


if __name__ == "__main__":
    main()
