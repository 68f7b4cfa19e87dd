"""Typeahead: the user typed the first characters of the last suggestion; serve the rest.

After a completion answered prefix P with suggestion T (same suffix S, file context C,
and other request parameters), a request whose prefix is P' = P + T[:k], 0 < k < len(T),
gets T[k:] at once, without an upstream call.

The index, and why lookups are O(len(P')) with no scan:
Let L(X) be X up to and including its last newline. Typing T[:k] either stays on P's last
line — then L(P') == L(P) — or crosses newlines of T — then L(P') == P + T[:j+1] for the
last newline T[j] within T[:k]. So a remembered answer is indexed under a few anchors:
L(P) (remainder to match: P's partial last line, then the typed part of T), and P + T[:j+1]
for each newline j of T (nothing more to match but the typed part of the rest of T). A
lookup computes L(P') once, hashes it with the scope (blake2b over tenant, model, S, C and
the parameters), and checks the few candidates under that hash: whether the partial line
after the anchor starts with the candidate's tail and the rest is a prefix of its
suggestion — a comparison of one line, not of the whole prefix.

Bounded: at most `max_anchors` anchors (LRU), a few candidates per anchor, suggestions up
to `max_suggestion` characters, and a TTL (the completion lane's). In-process only:
typeahead pays off on the replica that just answered, and a miss costs nothing.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cache.answer import StoredAnswer
from cache.keys import canonical_body

_PER_ANCHOR = 4
_MAX_LINE_ANCHORS = 32
# Fields that are the completion itself (or vary with every keystroke), not its parameters.
_NOT_PARAMS = frozenset({"prompt", "suffix", "messages", "input", "model"})


@dataclass(slots=True)
class TypeaheadScope:
    """Everything but the prefix that must match: computed once per request. It also keeps
    its last prefix's anchor: a request's look-up and, after a miss, its store hash the same
    prefix up to its last newline (the whole file above the cursor, up to the lane's budget)."""

    digest: bytes
    _anchor: tuple[str, int, Any] | None = field(default=None, compare=False, repr=False)

    def anchor(self, prefix: str) -> tuple[int, Any]:
        """(where `prefix`'s last line starts, a hasher fed this scope and `prefix` up to
        there): the caller's own copy."""
        a = self._anchor
        if a is None or (a[0] is not prefix and a[0] != prefix):
            cut = prefix.rfind("\n") + 1
            h = hashlib.blake2b(self.digest, digest_size=20)
            h.update(_enc(prefix[:cut]))
            a = self._anchor = (prefix, cut, h)
        return a[1], a[2].copy()


@dataclass(frozen=True, slots=True)
class TypeaheadHit:
    remainder: str
    typed: int  # characters of the suggestion the user typed (k)
    answer: StoredAnswer  # the original answer with its text replaced by the remainder


# A candidate is a plain tuple of strings and numbers, and an anchor's candidates a tuple of
# them: the garbage collector stops tracking such tuples, so a full index (20,000 anchors)
# adds nothing to a full collection. As objects (a dataclass per candidate holding its
# StoredAnswer, a list per anchor) they were 40,000 of the 74,700 objects a full collection
# walked with L1 and the index full (`python -m loadtests.bench.gc_pause`).
# (tail: what must follow the anchor before the typed part begins, offset: where the
#  suggestion continues from this anchor, whole: the suggestion, kind, body, model:
#  the stored answer's, expires)
_Candidate = tuple[str, int, str, str, bytes, str, float]


def typeahead_scope(
    *,
    tenant: str,
    model: str,
    suffix: str,
    context: str = "",
    params: Mapping[str, Any] | None = None,
) -> TypeaheadScope:
    """`params`: the request body; fields that change the answer (stop, max_tokens...) count."""
    rest = {k: v for k, v in canonical_body(params or {}).items() if k not in _NOT_PARAMS}
    h = hashlib.blake2b(digest_size=20)
    for part in (tenant, model, suffix, context):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    h.update(orjson.dumps(rest, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS))
    return TypeaheadScope(h.digest())


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class TypeaheadIndex:
    def __init__(
        self,
        max_anchors: int = 20_000,
        max_suggestion: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_anchors = max_anchors
        self.max_suggestion = max_suggestion
        self._clock = clock
        self._anchors: OrderedDict[bytes, tuple[_Candidate, ...]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._anchors)

    def remember(
        self,
        scope: TypeaheadScope,
        prefix: str,
        suggestion: str,
        answer: StoredAnswer,
        ttl_s: float,
    ) -> None:
        if not suggestion or len(suggestion) > self.max_suggestion or ttl_s <= 0:
            return
        expires = self._clock() + ttl_s
        kind, body, model = answer.kind, answer.body, answer.model
        cut, h = scope.anchor(prefix)
        self._add(h.digest(), (prefix[cut:], 0, suggestion, kind, body, model, expires))
        h.update(_enc(prefix[cut:]))
        start, lines = 0, 0
        while lines < _MAX_LINE_ANCHORS:
            newline = suggestion.find("\n", start)
            if newline < 0 or newline + 1 >= len(suggestion):
                break
            h.update(_enc(suggestion[start : newline + 1]))
            start, lines = newline + 1, lines + 1
            self._add(h.copy().digest(), ("", start, suggestion, kind, body, model, expires))

    def _add(self, anchor: bytes, candidate: _Candidate) -> None:
        found = self._anchors.get(anchor)
        if found is None:
            self._anchors[anchor] = (candidate,)
            while len(self._anchors) > self.max_anchors:
                self._anchors.popitem(last=False)
            return
        self._anchors.move_to_end(anchor)
        kept = tuple(c for c in found if c[0] != candidate[0])[-(_PER_ANCHOR - 1) :]
        self._anchors[anchor] = (*kept, candidate)

    def lookup(self, scope: TypeaheadScope, prefix: str) -> TypeaheadHit | None:
        cut, h = scope.anchor(prefix)
        anchor = h.digest()
        found = self._anchors.get(anchor)
        if not found:
            return None
        line, now = prefix[cut:], self._clock()
        for tail, offset, whole, kind, body, model, expires in reversed(found):
            if expires <= now or not line.startswith(tail):
                continue
            typed = line[len(tail) :]
            k = offset + len(typed)
            if 0 < k < len(whole) and whole.startswith(typed, offset):
                self._anchors.move_to_end(anchor)
                remainder = whole[k:]
                # usage=True only spares a parse here: the hit's answer is built afresh
                # from the parsed object, with its own usage.
                answer = StoredAnswer(kind, body, model, usage=True)
                return TypeaheadHit(remainder, k, _rest_answer(answer, whole, remainder, k))
        return None

    def clear(self) -> None:
        self._anchors.clear()


def _rest_answer(answer: StoredAnswer, whole: str, remainder: str, k: int) -> StoredAnswer:
    obj = dict(answer.obj())
    choice = dict((obj.get("choices") or [{}])[0])
    if answer.kind == "chat":
        choice["message"] = dict(choice.get("message") or {}) | {"content": remainder}
    else:
        choice["text"] = remainder
    choice["logprobs"] = None  # the original's no longer line up with the text
    obj["choices"] = [choice]
    if isinstance(obj.get("id"), str):
        obj["id"] = f"{obj['id']}-ta{k}"
    usage = obj.get("usage")
    if isinstance(usage, dict):
        # Nothing was generated for this request; report the share of the original's tokens
        # that the remainder stands for, so token counts stay plausible.
        done = int(usage.get("completion_tokens") or 0)
        out = math.ceil(done * len(remainder) / max(1, len(whole)))
        prompt = int(usage.get("prompt_tokens") or 0)
        obj["usage"] = {"prompt_tokens": prompt, "completion_tokens": out,
                        "total_tokens": prompt + out}
    return StoredAnswer.from_object(answer.kind, obj, answer.model)
