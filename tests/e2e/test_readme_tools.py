"""The README's 'Use it with your tools': every snippet parses in its own format, names the
base URL `laneway up` prints and only models the example config serves (or `auto`); the
OpenAI SDK snippet runs as written against laneway on the example config."""

import argparse
import ast
import contextlib
import io
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from procs import ROOT, Proc, start_laneway

from demo.up import add_arguments, example_config

SECTION = "## Use it with your tools"


def _up_base() -> str:
    """The base URL `laneway up` prints with its defaults (what `make run` starts)."""
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args([])
    return f"http://{args.host}:{args.port}/v1"


BASE = _up_base()
ROOT_URL = BASE.removesuffix("/v1")  # Anthropic clients add /v1 themselves
MODELS = {m["name"] for m in example_config(9100)["models"]}
ALLOWED = MODELS | {"auto"}


def _snippets() -> dict[str, list[tuple[str, str]]]:
    """{tool heading: [(language, body), ...]} from the README's tools section."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION + "\n")
    end = text.index("\n## ", start + len(SECTION))
    out: dict[str, list[tuple[str, str]]] = {}
    for part in text[start:end].split("\n### ")[1:]:
        heading, _, body = part.partition("\n")
        out[heading] = re.findall(r"```(\w+)\n(.*?)```", body, re.S)
    return out


SNIPPETS = _snippets()


def blocks(tool: str, lang: str) -> list[str]:
    heading = next(h for h in SNIPPETS if h.startswith(tool))
    found = [body for language, body in SNIPPETS[heading] if language == lang]
    assert found, f"no {lang} block under '### {heading}'"
    return found


def exports(sh: str) -> dict[str, str]:
    env = {}
    for line in sh.splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value)[0]
    return env


def test_every_tool_of_the_issue_has_a_snippet():
    headings = " | ".join(SNIPPETS)
    for tool in ("Claude Code", "Codex CLI", "opencode", "Qwen Code", "Continue", "`cn`",
                 "Cline", "Roo Code", "aider", "Tabby", "OpenAI", "Anthropic"):
        assert tool in headings, tool
    assert all(SNIPPETS.values()), "a tool without a snippet"


def test_claude_code_env():
    env = exports(blocks("Claude Code", "sh")[0])
    assert env["ANTHROPIC_BASE_URL"] == ROOT_URL
    assert env["ANTHROPIC_AUTH_TOKEN"]
    assert env["ANTHROPIC_MODEL"] in ALLOWED
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] in MODELS


def test_codex_cli_config_toml():
    cfg = tomllib.loads(blocks("Codex CLI", "toml")[0])
    provider = cfg["model_providers"][cfg["model_provider"]]
    assert cfg["model"] in ALLOWED
    assert provider["base_url"] == BASE
    assert provider["wire_api"] == "responses"  # the only value current Codex accepts
    assert re.fullmatch(r"[A-Z_]+", provider["env_key"])  # a variable's name, not a key


def test_opencode_json():
    cfg = json.loads(blocks("opencode", "json")[0])
    provider_id, _, model = cfg["model"].partition("/")
    provider = cfg["provider"][provider_id]
    assert provider["npm"] == "@ai-sdk/openai-compatible"
    assert provider["options"]["baseURL"] == BASE
    assert model in provider["models"] and set(provider["models"]) <= ALLOWED


def test_qwen_code_env():
    env = exports(blocks("Qwen Code", "sh")[0])
    assert env["OPENAI_BASE_URL"] == BASE
    assert env["OPENAI_MODEL"] in ALLOWED and env["OPENAI_API_KEY"]


def test_continue_config_yaml_chat_and_autocomplete():
    cfg = yaml.safe_load(blocks("Continue", "yaml")[0])
    assert cfg["schema"] == "v1" and cfg["name"] and cfg["version"]
    roles = set()
    for m in cfg["models"]:
        assert m["provider"] == "openai" and m["apiBase"] == BASE
        assert m["model"] in ALLOWED
        roles |= set(m["roles"])
    assert {"chat", "autocomplete"} <= roles


def test_cline_and_roo_code_settings():
    fields = dict(line.split(":", 1) for line in blocks("Cline", "text")[0].splitlines())
    assert fields["Base URL"].strip() == BASE
    assert fields["Model ID"].strip() in ALLOWED


def test_aider_flags():
    args = shlex.split(blocks("aider", "sh")[0])
    assert args[0] == "aider"
    assert args[args.index("--openai-api-base") + 1] == BASE
    prefix, _, model = args[args.index("--model") + 1].partition("/")
    assert prefix == "openai" and model in ALLOWED  # litellm's prefix for OpenAI-compatible


def test_tabby_config_toml():
    cfg = tomllib.loads(blocks("Tabby", "toml")[0])["model"]
    completion, chat = cfg["completion"]["http"], cfg["chat"]["http"]
    assert completion["kind"] == "openai/completion" and chat["kind"] == "openai/chat"
    for m in (completion, chat):
        assert m["api_endpoint"] == BASE and m["model_name"] in ALLOWED
    assert "{prefix}" in completion["prompt_template"]
    assert "{suffix}" in completion["prompt_template"]


def test_anthropic_sdk_snippet_names_the_root_url_and_a_model():
    source = next(b for b in blocks("The OpenAI and Anthropic SDKs", "python")
                  if "anthropic" in b)
    calls = {(k.arg, k.value.value) for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) for k in node.keywords
             if isinstance(k.value, ast.Constant)}
    assert ("base_url", ROOT_URL) in calls
    assert any(arg == "model" and value in ALLOWED for arg, value in calls)


@pytest.fixture(scope="module")
def example_laneway(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    port = int(fleet.url.rsplit(":", 1)[1])
    with start_laneway(tmp_path_factory.mktemp("readme"), example_config(port)) as proc:
        yield proc


def test_openai_sdk_snippet_runs_against_the_example_config(example_laneway: Proc):
    source = next(b for b in blocks("The OpenAI and Anthropic SDKs", "python")
                  if "from openai" in b)
    assert BASE in source
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source.replace(BASE, example_laneway.url + "/v1"), "README", "exec"), {})
    lane, model = out.getvalue().splitlines()[0].split()
    assert lane == "qa" and model in MODELS


def test_readme_quickstart_names_the_three_commands():
    text = (ROOT / "README.md").read_text()
    quick = text[text.index("## Quickstart"):text.index(SECTION)]
    for command in ("make run", "make demo", "make test", BASE):
        assert command in quick
    assert Path(ROOT / "laneway.example.yaml").exists()
