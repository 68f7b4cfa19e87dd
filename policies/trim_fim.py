"""Fitting a FIM prompt, rendered for a model's family, into a token budget.

Order of sacrifice: other files' context first (whole files, farthest first), then the
prefix and suffix, cut at line boundaries away from the cursor with a ~75/25 split of what
is left (a short side's unused share goes to the other). The cursor line (the prefix's last
line and the suffix's first) is never cut, unless it alone is bigger than the budget
(minified code), where it is cut between characters keeping the text nearest the cursor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from policies import tokens
from policies.fim import FileContext, FimPrompt, render, render_file
from policies.trim_text import cut_chars, take_back, take_forward

SLACK = 8  # tokens kept back for joins between separately counted parts (see fit)


@dataclass(frozen=True, slots=True)
class Fitted:
    fim: FimPrompt
    tokens_before: int  # exact when the input was small enough to count cheaply
    tokens_after: int  # the rendering's count: exact, or summed from exactly counted parts
    rendering: tuple[str, str | None] | None = None  # render(fim, family), when fit made it


def rendered_tokens(fim: FimPrompt, family: str) -> int:
    prompt, suffix = render(fim, family)
    return tokens.count(prompt) + tokens.count(suffix or "")


def _chars(fim: FimPrompt) -> int:
    return len(fim.prefix) + len(fim.suffix) + sum(len(c.text) for c in fim.context)


def _estimate(fim: FimPrompt) -> int:
    parts = [fim.prefix, fim.suffix, fim.middle, fim.head, fim.file_header]
    parts += [c.raw or c.text for c in fim.context]
    return sum(tokens.estimate(p) for p in parts) + 8 * (len(fim.context) + 3)


def fit(fim: FimPrompt, family: str, limit: int, share: float = 0.75,
        exact: bool = False) -> Fitted:
    """``fim`` trimmed so that its rendering for ``family`` has at most ``limit`` tokens.

    A rendering whose UTF-8 size is within ``limit`` fits whatever the tokenizer (no token
    is shorter than a byte): it is kept as is, and reported at that ceiling (never below
    its true count) unless ``exact`` asks for the count (``/laneway/explain``); the request
    path then counts nothing. Other small prompts are counted exactly. Big ones are never
    counted whole: the kept parts
    are counted as they are taken (chunks of whole lines), and their sum plus the frame
    is the result's count; SLACK covers the joins (a line-start join never adds a token,
    a marker join adds at most one). Only a result that keeps other files is recounted,
    since their headers are not part of the frame counted up front.
    """
    prompt, suffix = render(fim, family)
    bound = tokens.upper_bound(prompt) + tokens.upper_bound(suffix or "")
    if bound <= limit:
        n = tokens.count(prompt) + tokens.count(suffix or "") if exact else bound
        return Fitted(fim, n, n, (prompt, suffix))  # the caller sends this very rendering
    before: int | None = None
    if _estimate(fim) <= 2 * limit:  # small enough to count exactly: a few ms at most
        before = rendered_tokens(fim, family)
        if before <= limit:
            return Fitted(fim, before, before)
    frame = rendered_tokens(replace(fim, prefix="", suffix="", context=()), family)
    avail = limit - frame - SLACK - (8 if fim.context else 0)
    while True:
        out, used = _core(fim, family, avail, share)
        n = frame + used
        if out.context:
            n = rendered_tokens(out, family)
            while n > limit and out.context:  # over by a header: drop the farthest file
                out = replace(out, context=out.context[1:])
                n = rendered_tokens(out, family)
        if n <= limit or avail <= 0:  # avail <= 0: the frame alone is over (absurd budgets)
            break
        avail -= n - limit + max(2, avail // 64)
    if before is None:
        # Too big to be worth counting whole: the dropped text at the kept text's measured
        # tokens-per-char (the generic chars/2.8 estimate is 30-60% high on ordinary code).
        kept = max(1, _chars(out))
        before = n + -(-(_chars(fim) - kept) * n // kept)
    return Fitted(out, max(before, n), n)


def _core(fim: FimPrompt, family: str, avail: int, share: float) -> tuple[FimPrompt, int]:
    """Trimmed parts and their summed token counts (the frame not included)."""
    prefix, suffix = fim.prefix, fim.suffix
    p_line = prefix.rfind("\n") + 1  # start of the cursor line
    j = suffix.find("\n")
    s_line = len(suffix) if j < 0 else j + 1  # end of the cursor line (after its newline)
    mandatory = tokens.count_upto(prefix[p_line:], max(avail, 0))
    mandatory += tokens.count_upto(suffix[:s_line], max(avail, 0))
    if avail <= 0 or mandatory > avail:
        return _cut_cursor_line(fim, prefix[p_line:], suffix[:s_line], max(avail, 0), share)
    rest = avail - mandatory
    p_budget = int(rest * share)
    s_end, s_used = take_forward(suffix, s_line, rest - p_budget)
    if s_end == len(suffix):
        p_budget = rest - s_used  # a short suffix gives its unused share to the prefix
    p_start, p_used = take_back(prefix, p_line, p_budget)
    if p_start == 0 and s_end < len(suffix):
        s_end, more = take_forward(suffix, s_end, rest - p_used - s_used)
        s_used += more
    used = mandatory + p_used + s_used
    kept: tuple[FileContext, ...] = ()
    if p_start == 0 and s_end == len(suffix):
        kept, files = _keep_files(fim, family, avail - used)
        used += files
    return replace(fim, prefix=prefix[p_start:], suffix=suffix[:s_end], context=kept), used


def _keep_files(fim: FimPrompt, family: str, room: int) -> tuple[tuple[FileContext, ...], int]:
    """Other files that still fit, nearest (last) first; a file too big is skipped whole."""
    keep: list[FileContext] = []
    used = 0
    for c in reversed(fim.context):
        if room - used <= 0:
            break
        n = tokens.count_upto(render_file(fim, c, family), room - used)
        if used + n <= room:
            keep.append(c)
            used += n
    return tuple(reversed(keep)), used


def _cut_cursor_line(fim: FimPrompt, before: str, after: str, avail: int,
                     share: float) -> tuple[FimPrompt, int]:
    """The cursor line alone is over budget: keep characters nearest the cursor."""
    tail_after = cut_chars(after, avail - int(avail * share), keep_end=False)
    used = tokens.count(tail_after)
    head_before = cut_chars(before, avail - used, keep_end=True)
    used += tokens.count(head_before)
    return replace(fim, prefix=head_before, suffix=tail_after, context=()), used


# Completion over chat: a user message with a hole. Continue's "HOLE FILLER" writes
# {{FILL_HERE}} inside <QUERY>...</QUERY>; other editors use cursor tags or fenced code.
HOLES = ("{{FILL_HERE}}", "<FILL_HERE>", "{{CURSOR}}", "<CURSOR>", "<|cursor|>", "<cursor>",
         "<FILL_ME>", "<HOLE>", "{{HOLE}}", "<｜fim▁hole｜>")
_OPENERS = ("<QUERY>", "```")
_CLOSERS = ("</QUERY>", "```")


@dataclass(frozen=True, slots=True)
class Hole:
    start: int  # region of code around the hole (instructions outside it are never cut)
    at: int  # index of the hole marker
    mark: str
    end: int


def find_hole(text: str) -> Hole | None:
    at, mark = -1, ""
    for h in HOLES:
        i = text.find(h)
        if i >= 0 and (at < 0 or i < at):
            at, mark = i, h
    if at < 0:
        return None
    start, end = 0, len(text)
    for o, c in zip(_OPENERS, _CLOSERS, strict=True):
        i = text.rfind(o, 0, at)
        j = text.find(c, at + len(mark))
        if i >= 0 and j >= 0:
            nl = text.find("\n", i)  # the code starts on the line after the opener
            start = nl + 1 if 0 <= nl < at else i + len(o)
            end = j
            break
    return Hole(start, at, mark, end)


def fit_hole(text: str, hole: Hole, limit: int, share: float,
             exact: bool = False) -> tuple[str, Fitted]:
    """``text`` with the code around its hole trimmed to ``limit`` tokens."""
    fim = FimPrompt("suffix", text[hole.start:hole.at], text[hole.at + len(hole.mark):hole.end])
    fitted = fit(fim, "suffix", limit, share, exact)
    out = text[:hole.start] + fitted.fim.prefix + hole.mark + fitted.fim.suffix
    return out + text[hole.end:], fitted
