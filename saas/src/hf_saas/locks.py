"""One lock per state folder, shared by every provisioner process (``flock`` on ``<folder>/.lock``)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def folder_lock(directory: Path) -> Iterator[None]:
    """Hold ``directory``'s lock (made with the folder if need be) for the block."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
