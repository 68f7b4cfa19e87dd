from __future__ import annotations

from typing import Any

import orjson
from cache_samples import USAGE, completion_body

from cache.answer import StoredAnswer
from cache.typeahead import TypeaheadIndex, TypeaheadScope, typeahead_scope

PREFIX = "import os\n\ndef main():\n    path = os.getcwd()\n    "
SUGGESTION = "for name in os.listdir(path):\n        print(name)\n    return 0"
PARAMS: dict[str, Any] = {"temperature": 0.1, "max_tokens": 64, "stop": ["\n\n"]}


def scope(**over: Any) -> TypeaheadScope:
    args = {"tenant": "t-a", "model": "fast", "suffix": "\n\nmain()\n", "context": "",
            "params": PARAMS}
    return typeahead_scope(**(args | over))


def answer(text: str = SUGGESTION) -> StoredAnswer:
    return StoredAnswer("completions", orjson.dumps(completion_body(text)), "fast")


def remembered(**kw: Any) -> TypeaheadIndex:
    index = TypeaheadIndex(**kw)
    index.remember(scope(), PREFIX, SUGGESTION, answer(), 600)
    return index


def test_typed_characters_on_the_same_line_get_the_rest() -> None:
    index = remembered()
    for k in (1, 3, 10, SUGGESTION.index("\n")):
        hit = index.lookup(scope(), PREFIX + SUGGESTION[:k])
        assert hit is not None and hit.remainder == SUGGESTION[k:] and hit.typed == k


def test_typing_across_lines_of_the_suggestion() -> None:
    index = remembered()
    for k in range(1, len(SUGGESTION)):
        hit = index.lookup(scope(), PREFIX + SUGGESTION[:k])
        assert hit is not None, k
        assert hit.remainder == SUGGESTION[k:]


def test_no_hit_when_the_answer_would_differ() -> None:
    index = remembered()
    assert index.lookup(scope(), PREFIX) is None  # nothing typed: that is an exact-cache case
    assert index.lookup(scope(), PREFIX + SUGGESTION) is None  # all of it typed
    assert index.lookup(scope(), PREFIX + "fox") is None  # typed something else
    assert index.lookup(scope(), PREFIX + "for name in os.listdir(path):\n  x") is None
    assert index.lookup(scope(), PREFIX[:-1] + "for") is None  # an edit before the cursor
    assert index.lookup(scope(tenant="t-b"), PREFIX + "for") is None
    assert index.lookup(scope(model="big"), PREFIX + "for") is None
    assert index.lookup(scope(suffix="\n"), PREFIX + "for") is None
    assert index.lookup(scope(context="other file"), PREFIX + "for") is None
    assert index.lookup(scope(params=PARAMS | {"stop": ["\n"]}), PREFIX + "for") is None
    assert index.lookup(scope(), "# new first line\n" + PREFIX + "for") is None


def test_fields_that_do_not_change_the_answer_do_not_split_the_scope() -> None:
    same = scope(params=PARAMS | {"stream": True, "user": "x", "prompt": "ignored"})
    assert same == scope()


def test_the_hit_is_a_full_answer_with_the_remainder() -> None:
    hit = remembered().lookup(scope(), PREFIX + "for na")
    assert hit is not None
    obj = hit.answer.obj()
    assert obj["choices"][0]["text"] == SUGGESTION[6:]
    assert obj["choices"][0]["finish_reason"] == "stop"
    assert obj["id"] == "cmpl-7-ta6"
    assert obj["usage"]["prompt_tokens"] == USAGE["prompt_tokens"]
    assert 0 < obj["usage"]["completion_tokens"] <= USAGE["completion_tokens"]
    assert hit.answer.sse(include_usage=False).count(SUGGESTION[6:].encode()[:10]) == 1


def test_chat_answers_work_too() -> None:
    body = {"id": "c1", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "abc"}, "finish_reason": "stop"}]}
    chat = StoredAnswer("chat", orjson.dumps(body), "fast")
    index = TypeaheadIndex()
    index.remember(scope(), "x = ", "abc", chat, 60)
    hit = index.lookup(scope(), "x = a")
    assert hit is not None and hit.answer.text() == "bc"


def test_expiry_and_bounds() -> None:
    now = [100.0]
    index = TypeaheadIndex(max_candidates=8, clock=lambda: now[0])
    index.remember(scope(), PREFIX, SUGGESTION, answer(), 10)
    assert index.lookup(scope(), PREFIX + "f") is not None
    now[0] += 11
    assert index.lookup(scope(), PREFIX + "f") is None
    for i in range(50):
        index.remember(scope(suffix=f"# {i}\n"), f"v{i} = ", "value\nmore\n", answer(), 10)
    assert len(index) <= 8
    assert index.lookup(scope(suffix="# 49\n"), "v49 = va") is not None  # the newest stays
    assert index.lookup(scope(suffix="# 0\n"), "v0 = va") is None  # the oldest went
    index.remember(scope(), "a", "x" * 10_000, answer(), 10)  # too long to index
    assert index.lookup(scope(), "ax") is None


def test_successive_keystrokes_keep_their_own_candidates() -> None:
    index = TypeaheadIndex()
    index.remember(scope(), "x = f", "oo(1)", answer("oo(1)"), 60)
    index.remember(scope(), "x = g", "oo(2)", answer("oo(2)"), 60)
    a, b = index.lookup(scope(), "x = fo"), index.lookup(scope(), "x = go")
    assert a is not None and a.remainder == "o(1)"
    assert b is not None and b.remainder == "o(2)"


def test_a_scope_keeps_its_latest_answers_and_replaces_a_repeated_prefix() -> None:
    index = TypeaheadIndex()
    big = "x = 1\n" * 3000  # an 18 kB prefix
    for i in range(100):  # one scope (same suffix): e.g. typing at the end of a file
        index.remember(scope(), big + f"v = {i}\ny = ", f"call_{i}()\n", answer(), 600)
    hit = index.lookup(scope(), big + "v = 99\ny = cal")
    assert hit is not None and hit.remainder == "l_99()\n"
    assert index.lookup(scope(), big + "v = 0\ny = cal") is None  # long replaced
    assert len(index) == 8
    index.remember(scope(), big + "v = 99\ny = ", "other()\n", answer(), 600)
    hit = index.lookup(scope(), big + "v = 99\ny = ot")
    assert hit is not None and hit.remainder == "her()\n"
    assert index.lookup(scope(), big + "v = 99\ny = cal") is None  # the older answer went
    assert len(index) == 8


def test_many_scopes_each_find_their_own() -> None:
    index = TypeaheadIndex()
    for i in range(5000):
        index.remember(scope(suffix=f"\n# line {i}\n"), PREFIX, f"call_{i}()", answer(), 600)
    hit = index.lookup(scope(suffix="\n# line 4321\n"), PREFIX + "cal")
    assert hit is not None and hit.remainder == "l_4321()"
    assert index.lookup(scope(suffix="\n# line 5000\n"), PREFIX + "cal") is None


def test_a_prefix_of_the_same_length_and_ending_but_another_start_is_no_hit() -> None:
    # What the fingerprint is for: lengths, the typed part and the last characters agree.
    index = TypeaheadIndex()
    mine = "# one module\n" * 10 + PREFIX
    other = "# two module\n" + mine[len("# one module\n"):]
    index.remember(scope(), mine, SUGGESTION, answer(), 600)
    assert len(other) == len(mine) and other[-64:] == mine[-64:]
    assert index.lookup(scope(), other + "for") is None
    assert index.lookup(scope(), mine + "for") is not None
