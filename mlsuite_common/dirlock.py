"""One server per state directory: an exclusive lock a server holds on its data or cache directory.

Both servers keep state there that only one process may own: the trainer's SQLite store (a starting
trainer marks the jobs it finds RUNNING as interrupted, which would fail a live server's jobs) and model
cache, the downloader's status file and its one-download-at-a-time promise. A second server pointed at
the same directory, by a typo or an overlapping deploy, is refused at start with the first one's pid.

The lock is flock(2) on a file in the directory (`.mlsuite-server.lock` unless the server names
another): the kernel drops it when the holding process ends in any way, SIGKILL included, so a crashed
server never leaves a stale lock behind. The descriptor is not inheritable, so training processes and
other children never hold it. flock works on local file systems; on NFS it depends on the mount (Linux
emulates it with fcntl locks there).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["LOCK_FILE", "DirectoryInUse", "DirectoryLock"]

LOCK_FILE = ".mlsuite-server.lock"


class DirectoryInUse(Exception):
    """Another live process holds the directory's lock."""


class DirectoryLock:
    """An exclusive, non-blocking lock on a directory, held from acquire() until release() or exit."""

    def __init__(self, directory: Path, owner: str, lock_file: str | Path = LOCK_FILE) -> None:
        self.directory = directory
        self.path = directory / lock_file
        self._owner = owner
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock (creating the directory if needed); DirectoryInUse if another process has it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            os.close(fd)
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise DirectoryInUse(
                f"{self.directory} is in use by another {self._owner}{pid}; "
                "one server per directory: stop it or give this one a directory of its own"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up (the file stays; its content is only a hint for the next refusal)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = None
