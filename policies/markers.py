"""Literal markers the lane classifier looks for, and bounded searches over them.

Every marker is an exact, case-sensitive string that a real client writes verbatim
(see docs/client-shapes.md). Exact literals let us use ``str.find`` with start/end
bounds, which never copies the haystack; lower-casing or regex-scanning a 400 kB prompt
on every request would cost more than the whole rest of the classifier.

Everything here is an immutable tuple: the module holds no mutable state.
"""

from __future__ import annotations

from dataclasses import dataclass

# How far into a text we look. Markers sit at known places (the start of a FIM prompt,
# the top of a system prompt, the end of an agent's user turn), so a bounded head and
# tail window keeps the cost independent of the body size.
FIM_HEAD = 8192
FIM_TAIL = 512
ANCHOR = 48  # an "anchored" FIM marker starts/ends the text, give or take BOS/whitespace
# Agent protocols open a system prompt (Cline's TOOL USE is ~300 chars in) or are
# appended to it (Continue's tool list), so its head and a shorter tail suffice.
SYSTEM_HEAD = 8192
SYSTEM_TAIL = 4096
# Agent turns start ("[tool for 'x'] Result:", "<task>") or end (environment details).
TURN_HEAD = 8192
TURN_TAIL = 8192
# A hole sits between prefix and suffix; editors budget both to a few thousand tokens.
HOLE_HEAD = 16384
HOLE_TAIL = 16384
LOWER_HEAD = 2048  # only this much is ever lower-cased, for the side-job phrases


@dataclass(frozen=True, slots=True)
class FimFamily:
    name: str
    openers: tuple[str, ...]  # markers that begin a FIM prompt of this family
    closers: tuple[str, ...]  # markers that end it (the model writes the middle next)
    inner: tuple[str, ...]  # markers found elsewhere inside the prompt

    @property
    def all(self) -> tuple[str, ...]:
        return self.openers + self.closers + self.inner


# Order matters only for reporting: the first family that matches is named.
FIM_FAMILIES: tuple[FimFamily, ...] = (
    FimFamily(
        "qwen",
        openers=("<|fim_prefix|>", "<|repo_name|>", "<|file_sep|>", "<|fim_suffix|>"),
        closers=("<|fim_middle|>",),
        inner=(),
    ),
    FimFamily(
        "starcoder",
        openers=("<fim_prefix>", "<fim_suffix>", "<repo_name>", "<reponame>", "<file_sep>"),
        closers=("<fim_middle>",),
        inner=("<filename>",),
    ),
    FimFamily(
        "deepseek",
        # Full-width bars and U+2581; some third-party templates use ASCII pipes.
        openers=("<｜fim▁begin｜>", "<|fim▁begin|>", "<|fim_begin|>"),
        closers=("<｜fim▁end｜>", "<|fim▁end|>", "<|fim_end|>"),
        inner=("<｜fim▁hole｜>", "<|fim▁hole|>", "<|fim_hole|>"),
    ),
    FimFamily(
        # Codestral writes the suffix first: [SUFFIX]S[PREFIX]P, so nothing closes it.
        "codestral",
        openers=("[SUFFIX]", "[PREFIX]"),
        closers=(),
        inner=(),
    ),
    FimFamily(
        # "<PRE>" alone could be HTML, so codellama is only recognised anchored.
        "codellama",
        openers=("<PRE>",),
        closers=("<MID>",),
        inner=("<SUF>",),
    ),
)

# Beginning-of-sequence tokens some clients write before the first FIM marker.
BOS_TOKENS: tuple[str, ...] = ("<s>", "<|endoftext|>", "<｜begin▁of▁sentence｜>", "<bos>")

# Completion over chat: an editor asks a chat model to fill a hole.
HOLE_STRONG: tuple[str, ...] = (
    "{{FILL_HERE}}",
    "HOLE FILLER",
    "<FILL_ME>",
    "<COMPLETION>",
    "<|user_cursor_is_here|>",  # Zed-style edit prediction
)
# Cursor glyphs also turn up in ordinary questions ("why does my bar print █?"), so
# they only count with completion-like sampling settings.
HOLE_WEAK: tuple[str, ...] = ("<CURSOR>", "<|cursor|>", "<cursor>", "█")
HOLE_STOPS: tuple[str, ...] = ("</COMPLETION>",)

# Completion engines over chat (minuet-ai, cmp-ai, Cody-style plugins): a system prompt that
# casts the model as a completion engine (matched on its lower-cased head), the code before
# and after the cursor in tagged sections, and a cursor marker.
COMPLETION_ENGINE_SYSTEM: tuple[str, ...] = (
    "code completion engine", "completion engine", "code completion ai",
    "ai-powered code completion", "autocomplete engine", "autocompletion engine",
    "code completion model", "code completion assistant", "code completion tool",
    "you are a code completion", "you are an autocomplete", "coding companion",
    "complete the code at the cursor",
)
# Every phrase above holds one of these words: a miss costs two finds, not thirteen.
COMPLETION_ENGINE_WORDS: tuple[str, ...] = ("complet", "companion")
# (before the cursor, after the cursor): both tags of a pair must be present.
CURSOR_SECTIONS: tuple[tuple[str, str], ...] = (
    ("<contextBeforeCursor>", "<contextAfterCursor>"),
    ("<begin_code_prefix>", "<begin_code_suffix>"),
    ("<code_before_cursor>", "<code_after_cursor>"),
    ("<before_cursor>", "<after_cursor>"),
    ("<code_prefix>", "<code_suffix>"),
    ("<prefix>", "<suffix>"),
    ("<PREFIX>", "<SUFFIX>"),
    ("<fim_prefix>", "<fim_suffix>"),
)
CURSOR_MARKS: tuple[str, ...] = (
    *HOLE_WEAK, "<cursorPosition>", "<cursor_position>", "<|cursor_position|>", "<CURSOR_POSITION>",
    "{{cursor}}", "{{CURSOR}}", "<begin_code_middle>", "<|user_cursor_is_here|>",
)

# Tools described in a system prompt instead of a `tools` field (agent protocols).
# Each miss costs a scan of the windows, so redundant needles (BEGIN_ARG's twin
# "```tool", REPLACE's twin SEARCH) are left out.
AGENT_SYSTEM: tuple[tuple[str, str], ...] = (
    ("\nTOOL USE\n", "Cline/Roo XML tool protocol"),
    ("formatted using XML-style tags", "Cline/Roo XML tool protocol"),
    ("<execute_command>", "XML tool <execute_command>"),
    ("<replace_in_file>", "XML tool <replace_in_file>"),
    ("<write_to_file>", "XML tool <write_to_file>"),
    ("<attempt_completion>", "XML tool <attempt_completion>"),
    ("<read_file>", "XML tool <read_file>"),
    ("You are in agent mode", "Continue agent mode"),
    ("TOOL_NAME:", "Continue system-message tools (TOOL_NAME:)"),
    ("BEGIN_ARG:", "Continue system-message tools (BEGIN_ARG:)"),
    ("SEARCH/REPLACE block", "Aider SEARCH/REPLACE edit format"),
    ("<<<<<<< SEARCH", "Aider SEARCH/REPLACE edit format"),
    ("Act as an expert software developer", "Aider code-editing prompt"),
    ("Act as an expert architect engineer", "Aider architect prompt"),
    ("*** Begin Patch", "apply_patch edit format"),
    ("You have access to the following tools", "ReAct tool list"),
    ("within <tools></tools> XML tags", "Hermes-style tool list"),
)

# Agent loop turns written by the client into user messages.
AGENT_USER: tuple[tuple[str, str], ...] = (
    ("<environment_details>", "Cline/Roo <environment_details>"),
    ("</environment_details>", "Cline/Roo <environment_details>"),
    ("[TASK RESUMPTION]", "Cline/Roo task resumption"),
    ("You have access to the following tools", "ReAct tool list"),
)
TASK_OPEN, TASK_CLOSE = "<task>", "</task>"  # a Cline/Roo task opens the first user turn
TOOL_RESULT_TAIL = "] Result:"  # "[execute_command for 'npm test'] Result:"

# Client modes that declare "no tools, just answer".
QA_SYSTEM: tuple[tuple[str, str], ...] = (
    ("You are in chat mode", "Continue chat mode"),
    ("Act as an expert code analyst", "Aider ask mode"),
)
# One-shot side jobs; matched on a lower-cased, bounded head only.
SIDE_JOBS: tuple[tuple[str, str], ...] = (
    ("commit message", "commit message"),
    ("pull request description", "pull request description"),
    ("title for", "title"),
    ("conversation title", "title"),
    ("chat title", "title"),
    ("generate a title", "title"),
    ("word title", "title"),
    ("enhance the following prompt", "prompt rewriting"),
    ("enhance this prompt", "prompt rewriting"),
    ("improve the following prompt", "prompt rewriting"),
    ("improve this prompt", "prompt rewriting"),
    ("rewrite the following prompt", "prompt rewriting"),
    ("rewrite this prompt", "prompt rewriting"),
    ("generate 1-3 broad tags", "tagging"),
)


def _cover(needles: tuple[str, ...]) -> tuple[str, ...]:
    """A few words such that every needle contains one of them (greedy set cover): when
    none occurs, no needle does, and a handful of finds replaces one per needle."""
    left = set(needles)
    words: list[str] = []
    while left:
        counts: dict[str, int] = {}
        for needle in left:
            for word in set(needle.split()):
                counts[word] = counts.get(word, 0) + 1
        best = max(counts, key=lambda w: (counts[w], len(w), w))
        words.append(best)
        left = {n for n in left if best not in n}
    return tuple(words)


SIDE_JOB_WORDS: tuple[str, ...] = _cover(tuple(needle for needle, _ in SIDE_JOBS))

# Weak, spoofable hints that the caller is an agent client.
AGENT_USER_AGENTS: tuple[str, ...] = ("cline/", "roocode/", "roo-code/", "kilo-code/", "kilocode/")
AGENT_TITLES: tuple[str, ...] = ("cline", "roo code", "roo-code", "kilo code")
AGENT_ORIGINATOR_PREFIX = "codex"


def find_in_window(text: str, needle: str, head: int, tail: int) -> bool:
    """True if ``needle`` occurs in the first ``head`` or last ``tail`` chars of ``text``.

    ``str.find`` with bounds searches in place: no slice, no copy.
    """
    n = len(text)
    if n <= head + tail:
        return text.find(needle) >= 0
    if text.find(needle, 0, head) >= 0:
        return True
    return text.find(needle, n - tail) >= 0


def first_marker(
    text: str, markers: tuple[tuple[str, str], ...], head: int, tail: int
) -> str | None:
    """The label of the first marker found in the text's head/tail windows."""
    if len(text) <= head + tail:  # the windows cover it all: a plain `in` per needle
        for needle, label in markers:
            if needle in text:
                return label
        return None
    for needle, label in markers:
        if find_in_window(text, needle, head, tail):
            return label
    return None


def first_literal(text: str, needles: tuple[str, ...], head: int, tail: int) -> str | None:
    if len(text) <= head + tail:  # the windows cover it all: a plain `in` per needle
        for needle in needles:
            if needle in text:
                return needle
        return None
    for needle in needles:
        if find_in_window(text, needle, head, tail):
            return needle
    return None


def fim_family(text: str, anchored: bool) -> str | None:
    """Name the FIM family whose markers this text carries, or None.

    Unanchored (a /completions prompt, a completion whatever it holds): an opener near
    the start, a closer at the end, or any marker in the head/tail windows names the
    family; codellama's HTML-like ``<PRE>`` only counts near the start.
    Anchored (a chat message, whose author may merely *ask about* a marker): the text
    must be a FIM prompt, i.e. begin with an opener (after whitespace and a BOS token)
    and either end with a closer or hold a second marker of the same family.
    """
    start = text[:ANCHOR]
    end = text[-ANCHOR:].rstrip()
    if anchored:
        start = start.lstrip()
        for bos in BOS_TOKENS:
            if start.startswith(bos):
                start = start[len(bos) :].lstrip()
                break
    for fam in FIM_FAMILIES:
        if anchored:
            if not start.startswith(fam.openers):  # one C call for the common "no"
                continue
            opener = next((m for m in fam.openers if start.startswith(m)), None)
            if opener and (
                end.endswith(fam.closers)
                or any(m != opener and find_in_window(text, m, FIM_HEAD, FIM_TAIL) for m in fam.all)
            ):
                return fam.name
            continue
        if any(start.find(m) >= 0 for m in fam.openers) or end.endswith(fam.closers):
            return fam.name
        if fam.name != "codellama" and any(
            find_in_window(text, m, FIM_HEAD, FIM_TAIL) for m in fam.all
        ):
            return fam.name
    return None
