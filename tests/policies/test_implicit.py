"""Implicit acceptance: a later prefix that carries the shown text counts it, once; the
negative cases (another tenant, file, too late, text not right after, partly typed) don't."""

from __future__ import annotations

from policies.fim import parse
from policies.implicit import ShownIndex, file_of

BEFORE = "def area(r):\n    return "
SHOWN = "3.14159 * r * r"


def index_with_one() -> ShownIndex:
    idx = ShownIndex()
    idx.shown("team-a", "path:geo.py", "cmpl-1", BEFORE, SHOWN, now=100.0)
    return idx


def test_taking_the_text_and_typing_on_counts_it_once() -> None:
    idx = index_with_one()
    later = BEFORE + SHOWN + "\n\n\ndef perimeter(r):\n    return 2"
    assert idx.accepted("team-a", "path:geo.py", later, now=112.0) == ["cmpl-1"]
    assert idx.accepted("team-a", "path:geo.py", later + " * 3.14", now=113.0) == []


def test_the_negative_cases_count_nothing() -> None:
    taken = BEFORE + SHOWN + "\n"
    idx = index_with_one()
    assert idx.accepted("team-b", "path:geo.py", taken, now=101.0) == []  # another tenant
    assert idx.accepted("team-a", "path:other.py", taken, now=101.0) == []  # another file
    assert idx.accepted("team-a", "path:geo.py", BEFORE + "3.14 * r**2", 101.0) == []  # own text
    assert idx.accepted("team-a", "path:geo.py", BEFORE + "3.14159 * r", 102.0) == []  # partly
    # the text somewhere else in the file, not right after where it was offered
    elsewhere = SHOWN + "\n" + BEFORE + "r * r"
    assert idx.accepted("team-a", "path:geo.py", elsewhere, now=103.0) == []
    assert idx.accepted("team-a", "path:geo.py", taken, now=131.0) == []  # after 30 s
    blank = ShownIndex()
    blank.shown("team-a", "f", "cmpl-2", BEFORE, "  \n", now=0.0)  # nothing visible to take
    assert blank.accepted("team-a", "f", BEFORE + "  \nx", now=1.0) == []


def test_the_index_is_bounded_per_file_and_in_files() -> None:
    idx = ShownIndex(per_file=2, files=3)
    for i in range(5):
        idx.shown("t", "f", f"c{i}", f"line {i}\n", f"answer {i}", now=float(i))
    assert idx.accepted("t", "f", "line 0\nanswer 0", now=5.0) == []
    assert idx.accepted("t", "f", "line 4\nanswer 4", now=5.0) == ["c4"]
    for i in range(10):
        idx.shown("t", f"file-{i}", "c", "p", "x", now=0.0)
    assert len(idx) == 3


def test_the_file_is_the_path_then_the_session_then_the_user() -> None:
    qwen = ("<|repo_name|>shop\n<|file_sep|>src/cart.py\n"
            "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>")
    fim = parse(qwen)
    assert fim is not None and file_of(fim.path, {}, "s1", "alice") == "path:src/cart.py"
    codestral = parse("[SUFFIX]b[PREFIX]+++++ lib/tax.go\nfunc a")
    assert codestral is not None and file_of(codestral.path, {}, None, "u") == "path:lib/tax.go"
    assert file_of(None, {"filepath": "x.rs"}, "s1", "u") == "path:x.rs"
    assert file_of(None, {"segments": {"filepath": "y.ts"}}, None, "u") == "path:y.ts"
    assert file_of(None, {"filepath": 3}, "s1", "u") == "session:s1"
    assert file_of(None, {}, None, "alice") == "user:alice"


def test_pairs_past_the_window_are_dropped_when_another_is_shown():
    # Nothing in them can be accepted any more: the index holds only the last window_s.
    idx = ShownIndex(window_s=30.0)
    for i in range(100):
        idx.shown("t", f"file-{i}", f"c{i}", "def f():\n", "    return 1\n", now=float(i))
    idx.shown("t", "late", "c-late", "def f():\n", "    return 1\n", now=200.0)
    assert len(idx) == 1
    assert idx.accepted("t", "late", "def f():\n    return 1\n    x", now=201.0) == ["c-late"]
