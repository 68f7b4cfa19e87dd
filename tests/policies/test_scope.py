"""Line or block: the completion's length decided from the code around the cursor."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import scope

# "█" marks the cursor.
LINE_CASES = {
    "py call args": "def f():\n    result = compute(█)\n",
    "py mid expression": "total = price * █",
    "py list continues": "values = [\n    1,\n    2,\n    █\n]\n",
    "py call continues": "    return foo(a,\n               █",
    "py after statement": "for i in range(10):\n    print(i)\n    █\n",
    "py partial keyword": "def f(x):\n    retu█",
    "py dict key": "d = {\n    \"a\":█",
    "py if being typed": "    if x > 0█",
    "py after comment": "def f():\n    x = 1\n    # now handle errors\n    █\n    return x\n",
    "py lambda in call": "sorted(items, key=lambda x:█",
    "ts code after": "const total = items.reduce((acc, x) => acc + █, 0);",
    "ts object member": "const config = {\n  port: 3000,\n  █\n};\n",
    "ts type annotation": "  const name:█",
    "ts closing brace after": "function f() {█}",
    "go call": "\tfmt.Println(█)",
    "go multi-line args": "\tx := compute(a,\n\t\t█",
    "rust macro args": "    let v: Vec<i32> = vec![1, 2, █];",
    "rust match arm": "    match x {\n        Some(v) =>█",
    "java println": "        System.out.println(█);",
    "java statement done": "        int n = 0;\n        █",
    "c printf": "    printf(\"%d\\n\", █);",
    "string with brace": "    s = \"{\"█",
}

BLOCK_CASES = {
    "py new function body": "def add(a, b):\n    █",
    "py colon at cursor": "def add(a, b):█",
    "py class body": "class Point:\n    █\n",
    "py docstring only body": "class A:\n    \"\"\"Doc.\"\"\"\n    █\n\nclass B:\n    pass\n",
    "py if body": "    if user is None:\n        █\n    return user\n",
    "py else body": "    else:\n        █",
    "empty file": "█",
    "ts empty function": "function greet(name: string): string {\n  █\n}\n",
    "ts arrow callback": "const x = items.map((i) => {█\n",
    "ts if block": "if (user.isAdmin) {\n  █",
    "go func body": "func main() {\n\t█\n}\n",
    "go if err": "\tif err != nil {█",
    "go case body": "\tswitch v {\n\tcase 1:\n\t\t█",
    "rust fn body": "fn main() {\n    █\n}\n",
    "rust impl": "impl Display for Point {\n    █",
    "java method body": "public class Main {\n    public static void main(String[] args) {\n"
                        "        █\n    }\n}\n",
    "java for": "        for (int i = 0; i < n; i++) {█",
    "c main": "int main(void) {\n    █",
    "c allman brace": "int main(void)\n{\n    █",
    "ruby def": "def greet(name)\n  █\nend\n",
    "ruby each do": "items.each do |item|\n  █\nend\n",
    "elixir do": "  def run(x) do\n    █",
    "comment after opener": "if (ok) { // fast path\n  █",
}


def _split(text: str) -> tuple[str, str]:
    prefix, _, suffix = text.partition("█")
    return prefix, suffix


@pytest.mark.parametrize("name", sorted(LINE_CASES))
def test_line(name: str) -> None:
    assert scope.decide(*_split(LINE_CASES[name])) == scope.LINE


@pytest.mark.parametrize("name", sorted(BLOCK_CASES))
def test_block(name: str) -> None:
    assert scope.decide(*_split(BLOCK_CASES[name])) == scope.BLOCK


def test_bounded_cost_on_a_huge_prefix() -> None:
    prefix = ("    value = compute(a, b)  # (\n" * 12000) + "def f():\n    "
    started = time.perf_counter()
    for _ in range(10):
        assert scope.decide(prefix, "\n") == scope.BLOCK
    assert (time.perf_counter() - started) / 10 < 0.01  # microseconds in practice


def test_unbalanced_window_start_does_no_harm() -> None:
    # The window may start inside a string or after an unmatched closer.
    prefix = "x = ')' ]]] }}}\n" * 500 + "def f():\n    "
    assert scope.decide(prefix, "") == scope.BLOCK


def test_minified_single_line() -> None:
    prefix = "var a=" + "f(1),g(2)," * 50000
    started = time.perf_counter()
    assert scope.decide(prefix, ";") == scope.LINE
    assert scope.decide(prefix, "") == scope.LINE
    assert time.perf_counter() - started < 0.05


_CLOSERS = {")": "(", "]": "[", "}": "{"}


def _open_brackets_per_char(text: str) -> list[str]:
    """The character-by-character scan `_open_brackets` replaced: its reference."""
    stack: list[str] = []
    quote = ""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote or (ch == "\n" and quote != "`"):
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif (ch == "#" and text[i + 1:i + 2] in (" ", "!", "\t")) or text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif ch in "([{":
            stack.append(ch)
        elif ch in _CLOSERS and stack and stack[-1] == _CLOSERS[ch]:
            stack.pop()
        i += 1
    return stack


_SCOPE_CHARS = st.sampled_from(list("()[]{}\"'`\\#/ !\t\nab:x"))


@settings(max_examples=3000, deadline=None)
@given(st.lists(_SCOPE_CHARS, max_size=80).map("".join))
def test_open_brackets_matches_the_per_char_scan(text: str) -> None:
    assert scope._open_brackets(text) == _open_brackets_per_char(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_open_brackets_matches_the_per_char_scan_on_any_text(text: str) -> None:
    assert scope._open_brackets(text) == _open_brackets_per_char(text)
