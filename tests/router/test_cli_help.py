"""`laneway --help` lists every command with a sentence; every option says what it does and
its default."""

import contextlib
import io

import pytest

from router.cli import main

COMMANDS = ("up", "serve", "check-config", "fleet", "explain", "demo")


def help_of(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return out.getvalue()


def test_top_level_help_lists_each_command_with_a_sentence():
    text = help_of()
    for command in COMMANDS:
        line = next(ln for ln in text.splitlines() if ln.strip().startswith(command))
        rest = line.strip().removeprefix(command).strip()
        following = text.split(line + "\n", 1)[1].splitlines()[0].strip()  # a long name wraps
        assert len((rest or following).split()) >= 4, command
    assert "http://127.0.0.1:8080/v1" in text  # examples use the real default address


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help_and_its_default(command: str):
    text = help_of(command)
    options = text.split("options:", 1)[1]
    entries = [e for e in options.split("\n  -")[1:] if not e.startswith("h, --help")]
    if "positional arguments:" in text:
        positional = text.split("positional arguments:", 1)[1].split("options:", 1)[0]
        entries += [e for e in positional.split("\n  ")[1:] if e.strip()]
    assert entries
    for entry in entries:
        flag, *words = entry.split()
        assert len(words) >= 2, f"{command} -{flag} has no help"
    defaults = {"serve": ("default: 127.0.0.1", "default: 8080", "default: 1",
                          "default: warning"),
                "up": ("default: 127.0.0.1", "default: 8080", "default: 9100"),
                "fleet": ("default: 127.0.0.1", "default: 9100"),
                "demo": ("default 300", "default: 7", "default: laneway-demo.html")}
    flat = " ".join(text.split())
    for default in defaults.get(command, ()):
        assert default in flat, (command, default)
