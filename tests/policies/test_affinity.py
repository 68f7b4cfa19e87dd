from policies.affinity import PREFIX_CHARS, AffinityTable, session_key


def test_get_put_and_ttl():
    t = AffinityTable(ttl_s=100)
    assert t.get("s", 0) is None
    t.put("s", "big", 0)
    assert t.get("s", 50) == "big"
    assert t.get("s", 101) is None and len(t) == 0  # expired: the session starts afresh
    t.put("s", "big", 200)
    t.put("s", "big", 290)  # every answered turn puts again, which keeps it alive
    assert t.get("s", 380) == "big"


def test_bounded_lru():
    t = AffinityTable(max_sessions=2)
    t.put("a", "m1", 0)
    t.put("b", "m1", 0)
    t.get("a", 0)  # a is now the most recent
    t.put("c", "m2", 0)
    assert t.get("b", 0) is None and t.get("a", 0) == "m1" and t.get("c", 0) == "m2"
    assert len(t) == 2


def chat(system: str, user: str, *more: dict) -> dict:
    first = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return {"messages": [*first, *more]}


def test_header_then_prompt_cache_key_then_leading_messages():
    body = chat("sys", "fix it") | {"prompt_cache_key": "pck"}
    assert session_key(body, {"x-laneway-session": "abc"}).startswith("h:")  # type: ignore[union-attr]
    assert session_key(body, {}).startswith("p:")  # type: ignore[union-attr]
    key = session_key(chat("sys", "fix it"), {})
    assert key is not None and key.startswith("m:")


def test_same_conversation_same_key_across_turns():
    first = chat("sys", "fix the tests")
    later = chat(
        "sys",
        "fix the tests",
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "content": "ok", "tool_call_id": "1"},
    )
    other = chat("sys", "write docs")
    assert session_key(first, {}) == session_key(later, {}) != session_key(other, {})


def test_content_parts_and_long_texts():
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    plain = {"messages": [{"role": "user", "content": "hi"}]}
    assert session_key(parts, {}) == session_key(plain, {})
    long_a = chat("x" * PREFIX_CHARS + "a", "q")
    long_b = chat("x" * PREFIX_CHARS + "b", "q")
    assert session_key(long_a, {}) == session_key(long_b, {})  # only the prefix is hashed


def test_responses_shape():
    a = {"instructions": "be brief", "input": [{"role": "user", "content": "hello"}]}
    b = {"instructions": "be brief", "input": "hello"}
    c = {"instructions": "be long", "input": "hello"}
    ka, kb, kc = session_key(a, {}), session_key(b, {}), session_key(c, {})
    assert ka is not None and kc is not None and ka != kc
    assert kb is not None
    tool_only = {"input": [{"type": "function_call_output", "output": "42"}]}
    assert session_key(tool_only, {}) is not None


def test_no_key_for_completions_or_empty_chats():
    assert session_key({"prompt": "def f(", "suffix": ""}, {}) is None
    assert session_key({"messages": [{"role": "system", "content": "s"}]}, {}) is None
    assert session_key({"messages": "nonsense"}, {}) is None
    assert session_key({"input": []}, {}) is None


def test_the_same_conversation_of_two_tenants_has_two_keys():
    body = chat("sys", "fix the tests")
    mine, theirs = session_key(body, {}, "tenant-a"), session_key(body, {}, "tenant-b")
    assert mine is not None and theirs is not None and mine != theirs
    assert session_key(body, {}, "tenant-a") == mine
    header = {"x-laneway-session": "s-1"}
    assert session_key(body, header, "tenant-a") != session_key(body, header, "tenant-b")
    # Fixed size, whatever the client sent.
    assert len(session_key(body, {"x-laneway-session": "x" * 10_000}, "t") or "") == 34
