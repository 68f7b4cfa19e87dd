"""Cutting text to a token budget at line boundaries, paying only for what is kept.

The walks count whole chunks of lines (a few kB each) outward from an anchor and fall back
to single lines only in the chunk that overflows, so the cost is proportional to the text
kept (the budget), never to the text dropped: a 400 kB prefix costs what 16 kB costs.
Sums of chunk counts can differ from the count of the joined text by a token or two; the
callers verify the final result with one exact count and shrink if needed.
"""

from __future__ import annotations

from policies import tokens

JOIN_SLACK = 4  # tokens reserved for the joins around an omission marker
CHUNK = 2048  # chars per counted chunk: ~500 tokens; the one that overflows is recounted by line


def take_back(text: str, end: int, budget: int) -> tuple[int, int]:
    """Whole lines ending at ``end`` (a line start or len) that fit: (start, tokens used)."""
    start, used = end, 0
    while start > 0 and used < budget:
        cand = max(0, start - CHUNK)
        s = 0 if cand == 0 else text.rfind("\n", 0, cand) + 1
        n = tokens.count_upto(text[s:start], budget - used)
        if used + n <= budget:
            start, used = s, used + n
            continue
        while start > s:  # the chunk overflows: take its lines one at a time
            j = text.rfind("\n", s, start - 1)
            ls = j + 1 if j >= 0 else s
            n = tokens.count_upto(text[ls:start], budget - used)
            if used + n > budget:
                return start, used
            start, used = ls, used + n
    return start, used


def take_forward(text: str, start: int, budget: int) -> tuple[int, int]:
    """Whole lines from ``start`` (a line start) that fit: (end, tokens used)."""
    end, used, size = start, 0, len(text)
    while end < size and used < budget:
        cand = min(size, end + CHUNK)
        j = text.find("\n", cand - 1) if cand < size else -1
        e = j + 1 if j >= 0 else size
        n = tokens.count_upto(text[end:e], budget - used)
        if used + n <= budget:
            end, used = e, used + n
            continue
        while end < e:
            j = text.find("\n", end, e)
            le = j + 1 if j >= 0 else e
            n = tokens.count_upto(text[end:le], budget - used)
            if used + n > budget:
                return end, used
            end, used = le, used + n
    return end, used


def cut_chars(text: str, budget: int, keep_end: bool) -> str:
    """The longest-ish end (or start) of ``text`` within ``budget``, cut between characters.

    Only for single lines bigger than a budget (minified code, one-line JSON), where a line
    boundary does not exist. A few exact counts, each on a bounded slice.
    """
    if budget <= 0 or not text:
        return ""
    if tokens.count_upto(text, budget) <= budget:
        return text
    size = min(len(text), budget * 4)
    for _ in range(8):
        part = text[-size:] if keep_end else text[:size]
        n = tokens.count(part)
        if n <= budget and (n * 100 >= budget * 97 or size == len(text)):
            return part
        # Re-aim with the measured chars-per-token ratio, slightly short of the target.
        size = max(1, min(len(text), int(size * budget / max(n, 1) * (0.98 if n > budget else 1))))
    while size > 0:
        part = text[-size:] if keep_end else text[:size]
        if tokens.count(part) <= budget:
            return part
        size = size * 9 // 10
    return ""


def omission(lines: int, chars: int) -> str:
    return f"\n[... {lines} lines ({chars} chars) left out by laneway ...]\n"


def head_tail(text: str, budget: int, head_share: float = 0.5, over: bool = False) -> str:
    """``text`` if it fits, else its head and tail (whole lines) around an omission marker.

    The marker says how much was left out so a model (and a human reading a trace) knows
    the output was shortened, not that the tool printed nothing there. ``over``: the caller
    already knows the text does not fit (saves counting it once more).

    Cost: the kept text is counted once, as it is taken; the result is not recounted when
    both cuts fall on line boundaries (those joins never add tokens; JOIN_SLACK covers the
    marker's two joins).
    """
    if not over and tokens.count_upto(text, budget) <= budget:
        return text
    marker_cost = tokens.count(omission(10**6, 10**8))
    avail = budget - marker_cost - JOIN_SLACK
    for _ in range(6):
        if avail <= 0:
            return cut_chars(text, budget, keep_end=False)
        head_end, used = take_forward(text, 0, int(avail * head_share))
        head, exact = text[:head_end], False
        if not head:  # the first line alone is too long: cut it between characters
            first = text[: text.find("\n") + 1 or len(text)]
            head, exact = cut_chars(first, int(avail * head_share), keep_end=False), True
            used = tokens.count(head)
        tail_start, tail_used = take_back(text, len(text), avail - used)
        tail_start = max(tail_start, len(head))
        tail = text[tail_start:]
        if not tail and tail_start > len(head):  # the last line alone is too long
            last = text[text.rfind("\n", len(head), len(text) - 1) + 1:]
            tail, exact = cut_chars(last, avail - used, keep_end=True), True
            tail_start = len(text) - len(tail)
            tail_used = tokens.count(tail)
        gap = text[len(head):tail_start]
        out = head + omission(gap.count("\n"), len(gap)) + tail
        n = tokens.count(out) if exact else used + tail_used + marker_cost
        if n <= budget - (0 if exact else JOIN_SLACK):
            return out
        avail -= n - budget + 2
    return cut_chars(text, budget, keep_end=False)
