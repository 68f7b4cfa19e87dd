"""The config file, watched: an edit (a key revoked, added, moved to another team) reaches
every worker and every replica reading the file within a second or two, no restart, no
signal. One stat a second per worker; the reload itself is the SIGHUP one (a bad edit is
logged and the running config kept)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

EVERY_S = 1.0


def signature(path: str) -> tuple[int, int, int] | None:
    # The inode too: Kubernetes swaps a ConfigMap's file by renaming a symlinked directory.
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


async def watch(path: str, reload: Callable[[], None], every_s: float = EVERY_S) -> None:
    last = signature(path)
    while True:
        await asyncio.sleep(every_s)
        now = signature(path)
        if now is not None and now != last:
            last = now
            reload()
