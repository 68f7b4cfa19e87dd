"""FIM families: parse, render, stop markers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import fim
from policies.fim import FileContext, FimPrompt

PREFIX = "import os\n\ndef main():\n    path = os.path."
SUFFIX = "\n    print(path)\n\nmain()\n"

# What clients write (client-shapes.md), one per family, with exact bytes.
CLIENT_PROMPTS = {
    "qwen": f"<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>",
    "qwen-repo": (
        "<|repo_name|>acme/tools\n"
        "<|file_sep|>src/util.py\ndef helper():\n    return 1\n"
        "<|file_sep|>src/io.py\nimport json\n"
        f"<|file_sep|>src/main.py\n<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"
    ),
    "starcoder": f"<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>",
    "starcoder-repo": (
        "<repo_name>acme<file_sep>lib.rs\npub fn f() {}\n"
        f"<file_sep>main.rs\n<fim_prefix>{PREFIX}<fim_suffix>{SUFFIX}<fim_middle>"
    ),
    "codellama": f"<PRE> {PREFIX} <SUF>{SUFFIX} <MID>",
    "codellama-tight": f"<PRE>{PREFIX}<SUF>{SUFFIX}<MID>",
    "deepseek": f"<｜fim▁begin｜>{PREFIX}<｜fim▁hole｜>{SUFFIX}<｜fim▁end｜>",
    "deepseek-ascii": f"<|fim▁begin|>{PREFIX}<|fim▁hole|>{SUFFIX}<|fim▁end|>",
    "codestral": f"[SUFFIX]{SUFFIX}[PREFIX]{PREFIX}",
    "codestral-bos": f"<s>[SUFFIX]{SUFFIX}[PREFIX]{PREFIX}",
    "codestral-multifile": (
        f"[SUFFIX]{SUFFIX}[PREFIX]+++++ src/util.py \ndef helper():\n    return 1\n\n"
        f"+++++ src/io.py \nimport json\n\n+++++ src/main.py\n{PREFIX}"
    ),
}


@pytest.mark.parametrize("name", sorted(CLIENT_PROMPTS))
def test_same_family_round_trip_is_exact(name: str) -> None:
    prompt = CLIENT_PROMPTS[name]
    parsed = fim.parse(prompt)
    assert parsed is not None
    assert parsed.family == name.split("-")[0]
    assert parsed.prefix == PREFIX
    assert parsed.suffix == SUFFIX
    assert fim.render(parsed, parsed.family) == (prompt, None)


def test_repo_level_parts() -> None:
    parsed = fim.parse(CLIENT_PROMPTS["qwen-repo"])
    assert parsed is not None
    assert parsed.repo == "acme/tools"
    assert parsed.path == "src/main.py"
    assert [(c.path, c.text) for c in parsed.context] == [
        ("src/util.py", "def helper():\n    return 1\n"),
        ("src/io.py", "import json\n"),
    ]
    codestral = fim.parse(CLIENT_PROMPTS["codestral-multifile"])
    assert codestral is not None
    assert codestral.path == "src/main.py"
    assert [(c.path, c.text) for c in codestral.context] == [
        ("src/util.py", "def helper():\n    return 1"),
        ("src/io.py", "import json"),
    ]


def test_dropping_a_file_keeps_structure() -> None:
    parsed = fim.parse(CLIENT_PROMPTS["qwen-repo"])
    assert parsed is not None
    fewer = FimPrompt(**{**_fields(parsed), "context": parsed.context[1:]})
    prompt, _ = fim.render(fewer, "qwen")
    assert prompt.startswith("<|repo_name|>acme/tools\n<|file_sep|>src/io.py\n")
    assert "src/util.py" not in prompt
    assert prompt.endswith(
        f"<|file_sep|>src/main.py\n<|fim_prefix|>{PREFIX}<|fim_suffix|>{SUFFIX}<|fim_middle|>"
    )


def _fields(f: FimPrompt) -> dict[str, object]:
    return {k: getattr(f, k) for k in FimPrompt.__slots__}


def test_suffix_field_family() -> None:
    parsed = fim.parse(PREFIX, SUFFIX)
    assert parsed == FimPrompt("suffix", PREFIX, SUFFIX)
    assert fim.render(parsed, "suffix") == (PREFIX, SUFFIX)
    assert fim.parse("just a prompt") is None
    assert fim.parse("just a prompt", "") == FimPrompt("suffix", "just a prompt", "")


@pytest.mark.parametrize("source", sorted(CLIENT_PROMPTS))
@pytest.mark.parametrize("target", fim.FAMILIES)
def test_cross_family_keeps_prefix_and_suffix(source: str, target: str) -> None:
    parsed = fim.parse(CLIENT_PROMPTS[source])
    assert parsed is not None
    prompt, suffix = fim.render(parsed, target)
    again = fim.parse(prompt, suffix)
    assert again is not None
    assert again.family == target
    assert again.suffix == SUFFIX
    if target in ("qwen", "starcoder", "codestral") or not parsed.context:
        assert again.prefix == PREFIX
        assert [c.path for c in again.context] == [c.path for c in parsed.context]
    else:  # no file markers: other files ride in front of the prefix, named in comments
        assert again.prefix.endswith(PREFIX)
        for c in parsed.context:
            comment = "#" if c.path.endswith(".py") else "//"
            assert f"{comment} {c.path}\n{c.text}" in again.prefix


def test_qwen_in_deepseek_out() -> None:
    parsed = fim.parse(CLIENT_PROMPTS["qwen"])
    assert parsed is not None
    prompt, suffix = fim.render(parsed, "deepseek")
    assert suffix is None
    assert prompt == f"<｜fim▁begin｜>{PREFIX}<｜fim▁hole｜>{SUFFIX}<｜fim▁end｜>"
    out = fim.parse(prompt)
    assert out is not None and (out.prefix, out.suffix) == (PREFIX, SUFFIX)


def test_codellama_spaces_belong_to_markers() -> None:
    parsed = fim.parse("<PRE> x =  <SUF> + 1 <MID>")
    assert parsed is not None
    assert (parsed.prefix, parsed.suffix) == ("x = ", " + 1")
    assert fim.render(parsed, "qwen")[0] == "<|fim_prefix|>x = <|fim_suffix|> + 1<|fim_middle|>"


def test_detect_prefers_the_structure_that_starts_first() -> None:
    # Editing a file that quotes other families' markers in its code.
    code = 'MARKERS = ["<fim_prefix>", "<PRE>", "<SUF>", "[SUFFIX]", "<fim_suffix>"]\n'
    prompt = f"<|fim_prefix|>{code}<|fim_suffix|>\n<|fim_middle|>"
    parsed = fim.parse(prompt)
    assert parsed is not None and parsed.family == "qwen" and parsed.prefix == code
    assert fim.parse("def f(): pass") is None
    assert fim.parse("x = [SUFFIX] + [PREFIX]") is None  # codestral must open the prompt


def test_text_after_the_final_marker_is_kept() -> None:
    parsed = fim.parse("<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>already")
    assert parsed is not None and parsed.middle == "already"
    assert fim.render(parsed, "deepseek")[0].endswith("<｜fim▁end｜>already")
    assert fim.render(parsed, "suffix") == ("aalready", "b")


def test_stop_markers() -> None:
    assert "<|endoftext|>" in fim.stop_markers("qwen")
    assert "<|file_sep|>" in fim.stop_markers("qwen")
    assert fim.stop_markers("suffix") == []
    assert all(len(fim.stop_markers(f)) <= 3 for f in fim.FAMILIES)
    assert "<|fim_middle|>" in fim.vocabulary("qwen")
    with pytest.raises(ValueError):
        fim.render(FimPrompt("qwen", "a", "b"), "gpt")


_text = st.text(st.characters(codec="utf-8", exclude_characters="<>[]|｜+"), max_size=60)
_path = st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8})?\.(py|ts|go|rs)", fullmatch=True)
_files = st.lists(st.builds(FileContext, _path, _text.map(lambda t: t + "\n")), max_size=3)


@settings(max_examples=80, deadline=None)
@given(
    family=st.sampled_from(fim.FAMILIES),
    target=st.sampled_from(fim.FAMILIES),
    prefix=_text,
    suffix=_text,
    files=_files,
    repo=st.none() | _path,
    path=st.none() | _path,
)
def test_render_parse_render_is_stable(
    family: str,
    target: str,
    prefix: str,
    suffix: str,
    files: list[FileContext],
    repo: str | None,
    path: str | None,
) -> None:
    start = FimPrompt(family, prefix, suffix, tuple(files), repo, path)
    prompt, field = fim.render(start, family)
    parsed = fim.parse(prompt, field)
    assert parsed is not None and parsed.family == family
    assert fim.render(parsed, family) == (prompt, field)  # same family: byte-exact
    assert parsed.suffix == suffix
    out_prompt, out_field = fim.render(parsed, target)
    moved = fim.parse(out_prompt, out_field)
    assert moved is not None and moved.family == target
    assert moved.suffix == suffix
    assert moved.prefix.endswith(prefix)
    structured = ("qwen", "starcoder", "codestral")
    if not files or (family in structured and target in structured):
        assert moved.prefix == prefix  # files stay files, not text in front of the prefix


def _locate_every_family(prompt: str) -> tuple[str, int] | None:
    """`_locate` without its shortcut for prompts that open with a marker: every family's
    start, the earliest (the first family of equals) wins."""
    best: tuple[str, int] | None = None
    for name, spec in fim._SPECS.items():
        if name == "suffix":
            continue
        start = fim._start(name, spec, prompt)
        if start is not None and (best is None or start < best[1]):
            best = (name, start)
    return best


_MARKER_WORDS = sorted({w for ws in fim._WORDS.values() for w in ws} | {"<s>", "+++++ a.py\n"})
_PLAIN = ["x", "\n", " ", "def f():"]


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_MARKER_WORDS), st.sampled_from(_PLAIN)),
                max_size=12).map("".join))
def test_a_prompt_opening_with_a_marker_is_located_as_by_searching_all(prompt: str) -> None:
    assert fim._locate(prompt) == _locate_every_family(prompt)
