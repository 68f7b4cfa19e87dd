"""Implicit acceptance: the user took the completion and typed on.

Most editors send no feedback. A completion is counted as accepted, once, when within
`window_s` (30 s) a later completion request of the same tenant and file carries the shown
text in its prefix right after the earlier prefix, whatever was typed after it (the
signal Continue uses to cancel its inferred rejection; Cody checks persistence the same
way). "Right after the earlier prefix" is checked on the earlier prefix's last `ANCHOR`
characters: enough to place the text, bounded so a 16 kB prefix costs one substring search.

Only shown completions are registered (a superseded one never reached the screen), and
only ones with visible text (an empty answer cannot be taken). The index is bounded:
per file the newest `per_file` completions, and at most `files` (tenant, file) pairs, the
least recently used dropped first; a pair whose newest completion is past the window is
dropped as soon as another is shown (nothing in it can be accepted any more), so the
index holds at most what was shown in the last `window_s`. Each entry carries up to a few
kB of text (the anchor and the answer): the bounds are what keep a busy worker's RSS flat.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ANCHOR = 160  # chars of the earlier prefix that must precede the shown text


@dataclass(frozen=True, slots=True)
class Shown:
    completion_id: str
    needle: str  # the earlier prefix's tail + the shown text
    at: float


def file_of(
    fim_path: str | None, body: Mapping[str, Any], session: str | None, user: str
) -> str:
    """The file a completion request is about: the path it names (repo-level FIM markers,
    `+++++ path` headers, a `filepath` field, Tabby's `segments.filepath`), else the
    `x-laneway-session` header, else the user (the unit)."""
    if fim_path:
        return "path:" + fim_path
    path = body.get("filepath")
    if not isinstance(path, str) or not path:
        segments = body.get("segments")
        path = segments.get("filepath") if isinstance(segments, Mapping) else None
    if isinstance(path, str) and path:
        return "path:" + path
    if session:
        return "session:" + session
    return "user:" + user


class ShownIndex:
    def __init__(self, window_s: float = 30.0, per_file: int = 4, files: int = 10_000) -> None:
        self._window = window_s
        self._per_file = per_file
        self._files = files
        self._by_file: OrderedDict[tuple[str, str], list[Shown]] = OrderedDict()

    def shown(
        self, tenant: str, file: str, completion_id: str, prefix: str, text: str, now: float
    ) -> None:
        """A completion reached the screen after `prefix` (the prefix its request carried)."""
        if not text.strip():
            return
        key = (tenant, file)
        entries = self._by_file.get(key)
        if entries is None:
            entries = self._by_file[key] = []
            if len(self._by_file) > self._files:
                self._by_file.popitem(last=False)
        else:
            self._by_file.move_to_end(key)
        entries.append(Shown(completion_id, prefix[-ANCHOR:] + text, now))
        if len(entries) > self._per_file:
            del entries[0]
        # Least recently shown first: expired pairs sit at the head (amortised O(1)).
        by_file = self._by_file
        while by_file:
            head = next(iter(by_file.values()))
            if now - head[-1].at <= self._window:
                break
            by_file.popitem(last=False)

    def accepted(self, tenant: str, file: str, prefix: str, now: float) -> list[str]:
        """Ids of earlier completions that this request's prefix shows were taken; each is
        returned once (then forgotten). Expired ones are dropped on the way."""
        entries = self._by_file.get((tenant, file))
        if not entries:
            return []
        hits: list[str] = []
        keep: list[Shown] = []
        for s in entries:
            if now - s.at > self._window:
                continue
            if s.needle in prefix:
                hits.append(s.completion_id)
            else:
                keep.append(s)
        if keep:
            self._by_file[(tenant, file)] = keep
        else:
            del self._by_file[(tenant, file)]
        return hits

    def __len__(self) -> int:
        return len(self._by_file)
