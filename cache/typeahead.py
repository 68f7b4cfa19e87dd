"""Typeahead: the user typed the first characters of the last suggestion; serve the rest.

After a completion answered prefix P with suggestion T (same suffix S, file context C,
and other request parameters), a request whose prefix is P' = P + T[:k], 0 < k < len(T),
gets T[k:] at once, without an upstream call.

The index: everything but the prefix that must match (tenant, model, S, C, the parameters)
is one key, the scope (a blake2b digest, computed once per request). Under it sit the scope's
latest few answers, each as (len(P), P's last characters, a fingerprint of P, T...). A
look-up takes the request's scope and, for each of those few, compares lengths and the typed
part with T first (no copy of the prefix, no hashing): only a candidate that passes that
has P' cut at len(P) and fingerprinted. Storing an answer is one index entry whatever the
shape of T; typing across T's lines needs nothing more, since P' is compared with P + T[:k]
for any k.

Why not anchors per line (an earlier design: P up to its last newline, hashed, and once
more per line of T, so each look-up hashed the file above the cursor): storing an answer
cost one hash and one index entry per line of T, and under load, with the index full, that
was ~30 of the ~45 µs typeahead added to a completion (measured with and without it,
alternating on identical servers), where this costs one entry.

The fingerprint is Python's string hash (SipHash, keyed per process unless PYTHONHASHSEED
fixes the key; the index is per process too): a wrong answer would need, within one scope
(one tenant's), a prefix of the same length, the same last 64 characters and the same
64-bit hash.

Bounded: at most `max_candidates` answers (whole scopes are dropped, least recently used
first), `_PER_SCOPE` per scope, suggestions up to `max_suggestion` characters, and a TTL
(the completion lane's). In-process only: typeahead pays off on the replica that just
answered, and a miss costs nothing.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from cache.answer import StoredAnswer
from cache.keys import canonical_body

# A scope is one tenant's cursor position in one file (same suffix and context) as they
# type, or, at the end of a file (no suffix), all their typing there: room for the latest
# few answers of several people sharing a key.
_PER_SCOPE = 8
_TAIL = 64
# Fields that are the completion itself (or vary with every keystroke), not its parameters.
_NOT_PARAMS = frozenset({"prompt", "suffix", "messages", "input", "model"})


@dataclass(frozen=True, slots=True)
class TypeaheadScope:
    """Everything but the prefix that must match: computed once per request."""

    digest: bytes


@dataclass(frozen=True, slots=True)
class TypeaheadHit:
    remainder: str
    typed: int  # characters of the suggestion the user typed (k)
    answer: StoredAnswer  # the original answer with its text replaced by the remainder


# A candidate is a plain tuple of strings and numbers, and a scope's candidates a tuple of
# them: the garbage collector stops tracking such tuples, so a full index adds nothing to a
# full collection (as objects they were 40,000 of the 74,700 objects a full collection
# walked with L1 and the index full: `python -m loadtests.bench.gc_pause`).
# (n: len(P), tail: P's last _TAIL characters, fingerprint: hash(P), whole: the suggestion,
#  kind, body, model: the stored answer's, expires)
_Candidate = tuple[int, str, int, str, str, bytes, str, float]


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


class TypeaheadIndex:
    def __init__(
        self,
        max_candidates: int = 20_000,
        max_suggestion: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_candidates = max_candidates
        self.max_suggestion = max_suggestion
        self._clock = clock
        self._scopes: OrderedDict[bytes, tuple[_Candidate, ...]] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        """Answers held (across all scopes)."""
        return self._count

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
        n, fingerprint = len(prefix), hash(prefix)
        candidate = (n, prefix[-_TAIL:], fingerprint, suggestion, answer.kind, answer.body,
                     answer.model, self._clock() + ttl_s)
        key, scopes = scope.digest, self._scopes
        found = scopes.get(key)
        if found is None:
            scopes[key] = (candidate,)
            self._count += 1
        else:
            scopes.move_to_end(key)
            # The same prefix answered again replaces its older answer.
            kept = tuple(c for c in found if c[0] != n or c[2] != fingerprint)[1 - _PER_SCOPE:]
            scopes[key] = (*kept, candidate)
            self._count += len(kept) + 1 - len(found)
        while self._count > self.max_candidates and scopes:
            _, gone = scopes.popitem(last=False)
            self._count -= len(gone)

    def lookup(self, scope: TypeaheadScope, prefix: str) -> TypeaheadHit | None:
        found = self._scopes.get(scope.digest)
        if not found:
            return None
        m, now = len(prefix), self._clock()
        for n, tail, fingerprint, whole, kind, body, model, expires in reversed(found):
            k = m - n
            # Cheapest first: lengths, the typed part against the suggestion, P's last
            # characters in place; only then a copy of P' up to len(P) and its hash.
            if not 0 < k < len(whole) or expires <= now:
                continue
            if not whole.startswith(prefix[n:]) or not prefix.startswith(tail, n - len(tail)):
                continue
            if hash(prefix[:n]) != fingerprint:
                continue
            self._scopes.move_to_end(scope.digest)
            remainder = whole[k:]
            # usage=True only spares a parse here: the hit's answer is built afresh
            # from the parsed object, with its own usage.
            answer = StoredAnswer(kind, body, model, usage=True)
            return TypeaheadHit(remainder, k, _rest_answer(answer, whole, remainder, k))
        return None

    def clear(self) -> None:
        self._scopes.clear()
        self._count = 0


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
