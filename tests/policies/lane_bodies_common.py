"""Realistic request bodies for the lane classifier tests.

Written by hand after the public sources of the tools named in each case (their prompt
templates, request builders and system prompts), shortened but with the markers,
fields and structure those tools really send. This module holds what the bodies share
(the Case record, prompts, headers and builders); the cases themselves are in
lane_bodies_completion.py, lane_bodies_agentic.py, lane_bodies_qa.py and
lane_bodies_override.py. All are loaded by test_lanes.py via importlib.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class Case(NamedTuple):
    id: str
    endpoint: str  # an Endpoint value
    body: dict[str, Any]
    lane: str
    signal: str  # a substring the joined reasons must contain
    headers: Mapping[str, str] = NO_HEADERS


PY_PREFIX = (
    "import json\nfrom pathlib import Path\n\n\n"
    "def load_config(path: Path) -> dict:\n"
    '    """Read the YAML or JSON config at path."""\n'
    "    text = path.read_text()\n    if path.suffix == '.json':\n        "
)
PY_SUFFIX = (
    "\n    return yaml.safe_load(text)\n\n\ndef main() -> None:\n    cfg = load_config(Path('x'))\n"
)
TS_PREFIX = (
    "export function debounce<T extends (...a: any[]) => void>(fn: T, ms: number) {\n  let t: "
)
TS_SUFFIX = "\n  return (...args: Parameters<T>) => {\n    clearTimeout(t);\n  };\n}\n"

# ---------------------------------------------------------------- system prompts
CLINE_SYSTEM = (
    "You are Cline, a highly skilled software engineer with extensive knowledge in many "
    "programming languages, frameworks, design patterns, and best practices.\n\n====\n\n"
    "TOOL USE\n\nYou have access to a set of tools that are executed upon the user's approval. "
    "You can use one tool per message, and will receive the result of that tool use in the "
    "user's response.\n\n# Tool Use Formatting\n\nTool use is formatted using XML-style tags. "
    "The tool name is enclosed in opening and closing tags, and each parameter is similarly "
    "enclosed within its own set of tags.\n\n<tool_name>\n<parameter1_name>value1"
    "</parameter1_name>\n</tool_name>\n\n# Tools\n\n## execute_command\nDescription: Request "
    "to execute a CLI command on the system.\nUsage:\n<execute_command>\n<command>Your command "
    "here</command>\n<requires_approval>true or false</requires_approval>\n</execute_command>"
    "\n\n## read_file\nUsage:\n<read_file>\n<path>File path here</path>\n</read_file>\n\n"
    "## replace_in_file\nUsage:\n<replace_in_file>\n<path>File path here</path>\n<diff>\n"
    "------- SEARCH\n[exact content to find]\n=======\n[new content]\n+++++++ REPLACE\n</diff>\n"
    "</replace_in_file>\n\n## attempt_completion\n<attempt_completion>\n<result>\n...\n"
    "</result>\n</attempt_completion>\n" + "\n# Rules\n- Your current working directory is: "
    "/home/dev/shop\n" * 40
)
ROO_SYSTEM_OLD = (
    "You are Roo, a highly skilled software engineer.\n\n====\n\nMARKDOWN RULES\n\nALL "
    "responses MUST show ANY `language construct` as clickable.\n\n====\n\nTOOL USE\n\nYou have "
    "access to a set of tools that are executed upon the user's approval.\n\n# Tool Use "
    "Formatting\n\nTool uses are formatted using XML-style tags.\n\n# Tools\n\n## read_file\n"
    "<read_file>\n<args>\n  <file>\n    <path>path/to/file</path>\n  </file>\n</args>\n"
    "</read_file>\n\n## apply_diff\n<apply_diff>\n<path>File path here</path>\n<diff>\n"
    "<<<<<<< SEARCH\n:start_line:1\n-------\n[exact content]\n=======\n[new content]\n"
    ">>>>>>> REPLACE\n</diff>\n</apply_diff>\n"
)
CONTINUE_AGENT_SYSTEM = (
    "<important_rules>\n  You are in agent mode.\n\n  Always include the language and file "
    "name in the info string when you write code blocks.\n</important_rules>"
)
CONTINUE_CHAT_SYSTEM = (
    "<important_rules>\n  You are in chat mode.\n\n  If the user asks to make changes to "
    "files offer that they can use the Apply Button on the code block, or switch to Agent "
    "Mode to make the suggested updates automatically.\n\n  Always include the language and "
    "file name in the info string when you write code blocks.\n</important_rules>"
)
CONTINUE_SYSTEM_TOOLS = (
    CONTINUE_AGENT_SYSTEM + '\n\nYou have access to several "tools" that you can use at any '
    "time to retrieve information and/or perform tasks for the User.\nTo use a tool, respond "
    "with a tool code block (```tool) using the syntax shown in the examples below:\n\n"
    "The following tools are available to you:\n\nTo read a file with a known filepath, use "
    "the read_file tool. For example, to read a file located at 'path/to/file.txt', you would "
    "respond with this:\n```tool\nTOOL_NAME: read_file\nBEGIN_ARG: filepath\npath/to/file.txt"
    "\nEND_ARG\n```\n"
)
AIDER_EDITBLOCK_SYSTEM = (
    "Act as an expert software developer.\nAlways use best practices when coding.\nRespect "
    "and use existing conventions, libraries, etc that are already present in the code base."
    "\nTake requests for changes to the supplied code.\nIf the request is ambiguous, ask "
    "questions.\n\nOnce you understand the request you MUST:\n\n1. Decide if you need to "
    "propose *SEARCH/REPLACE* edits to any files that haven't been added to the chat.\n"
    "2. Think step-by-step and explain the needed changes in a few short sentences.\n\n"
    "3. Describe each change with a *SEARCH/REPLACE block* per the examples below.\n\n"
    "# Example conversations:\n\nmathweb/flask/app.py\n```python\n<<<<<<< SEARCH\nfrom flask "
    "import Flask\n=======\nimport math\nfrom flask import Flask\n>>>>>>> REPLACE\n```\n"
)
AIDER_ARCHITECT_SYSTEM = (
    "Act as an expert architect engineer and provide direction to your editor engineer.\n"
    "Study the change request and the current code.\nDescribe how to modify the code to "
    "complete the request.\n"
)
AIDER_ASK_SYSTEM = (
    "Act as an expert code analyst.\nAnswer questions about the supplied code.\nAlways reply "
    "to the user in English.\n\nDescribe code changes however you like. Don't use SEARCH"
    "/REPLACE blocks!\n"
)
HOLE_FILLER_SYSTEM = (
    "You are a HOLE FILLER. You are provided with a file containing holes, formatted as "
    "'{{HOLE_NAME}}'. Your TASK is to complete with a string to replace this hole with, "
    "inside a <COMPLETION/> XML tag, including context-aware indentation, if needed."
)
REACT_PROMPT = (
    "Answer the following questions as best you can. You have access to the following tools:"
    "\n\nsearch_docs(query: str) - search the internal docs\nrun_sql(query: str) - run a "
    "read-only SQL query\n\nUse the following format:\n\nQuestion: the input question\n"
    "Thought: you should always think about what to do\nAction: the action to take, one of "
    "[search_docs, run_sql]\nAction Input: the input to the action\nObservation: the result"
    "\n\nBegin!\n\nQuestion: how many orders shipped late last week?\nThought:"
)
HERMES_SYSTEM = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are "
    "provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    '{"type": "function", "function": {"name": "get_weather", "parameters": {}}}\n</tools>\n'
)
ENV_DETAILS = (
    "<environment_details>\n# VSCode Visible Files\nsrc/cart.ts\n\n# VSCode Open Tabs\n"
    "src/cart.ts\nsrc/api.ts\n\n# Current Time\n6/2/2026, 10:14:03 AM (Europe/Berlin)\n\n"
    "# Current Working Directory (/home/dev/shop) Files\npackage.json\nsrc/\nsrc/cart.ts\n"
    "\n# Current Mode\nACT MODE\n</environment_details>"
)
FILE_WITH_FIM = (  # a tokenizer test file an agent may read: FIM markers as plain data
    'SPECIAL = ["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|fim_prefix|>"]\n'
    "def test_roundtrip():\n    assert tok.decode(tok.encode('<fim_prefix>x')) == '<fim_prefix>x'\n"
)

MINUET_SYSTEM = (
    "You are the backend of an AI-powered code completion engine. Your task is to provide "
    "code suggestions based on the user's input. The user's code will be enclosed in "
    "markers:\n\n- `<contextAfterCursor>`: Code context after the cursor\n"
    "- `<cursorPosition>`: Current cursor location\n"
    "- `<contextBeforeCursor>`: Code context before the cursor\n"
)
COMPLETION_STOPS = ["<|endoftext|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "\n\n\n"]


def continue_fim(prompt: str, stop: list[str], model: str = "qwen2.5-coder:1.5b") -> dict[str, Any]:
    """Continue autocomplete: FIM written into prompt, no suffix field."""
    return {
        "model": model,
        "prompt": prompt,
        "max_tokens": 4096,
        "temperature": 0.01,
        "stop": stop,
        "stream": True,
    }


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": list(messages), "stream": True, **extra}


def system(text: str) -> dict[str, Any]:
    return {"role": "system", "content": text}


def user(text: Any) -> dict[str, Any]:
    return {"role": "user", "content": text}


def asst(text: Any, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, **extra}


def fn_tool(name: str, desc: str = "") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": desc or name,
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }


def tool_call(call_id: str, name: str, args: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


# Client headers shared by agentic and qa cases.
CLINE_HEADERS = {
    "user-agent": "Cline/3.36.1",
    "http-referer": "https://cline.bot",
    "x-title": "Cline",
}
ROO_HEADERS = {"user-agent": "RooCode/3.30.0", "x-title": "Roo Code"}
