"""Realistic request bodies for the lane classifier tests.

Written by hand after the public sources of the tools named in each case (their prompt
templates, request builders and system prompts), shortened but with the markers,
fields and structure those tools really send. Loaded by test_lanes.py via importlib.
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


# ------------------------------------------------------------------ completion
COMPLETION_CASES: list[Case] = [
    Case(
        "continue-qwen-fim",
        "completions",
        continue_fim(
            f"<|fim_prefix|>{PY_PREFIX}<|fim_suffix|>{PY_SUFFIX}<|fim_middle|>", COMPLETION_STOPS
        ),
        "completion",
        "qwen FIM",
    ),
    Case(
        "continue-qwen-repo-level",
        "completions",
        continue_fim(
            "<|repo_name|>shop\n<|file_sep|>src/util.py\ndef slug(s):\n    return s.lower()\n"
            + "# util padding line\n" * 600
            + f"<|file_sep|>src/config.py\n<|fim_prefix|>{PY_PREFIX}<|fim_suffix|>{PY_SUFFIX}"
            "<|fim_middle|>",
            COMPLETION_STOPS,
        ),
        "completion",
        "qwen FIM",
    ),
    Case(
        "continue-starcoder-fim",
        "completions",
        continue_fim(
            f"<fim_prefix>{TS_PREFIX}<fim_suffix>{TS_SUFFIX}<fim_middle>",
            ["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>", "<|endoftext|>"],
            "starcoder2:3b",
        ),
        "completion",
        "starcoder FIM",
    ),
    Case(
        "continue-codellama-fim",
        "completions",
        continue_fim(
            f"<PRE> {PY_PREFIX} <SUF>{PY_SUFFIX} <MID>", ["<END>", "<EOT>"], "codellama:7b"
        ),
        "completion",
        "codellama FIM",
    ),
    Case(
        "continue-deepseek-fim",
        "completions",
        continue_fim(
            f"<｜fim▁begin｜>{PY_PREFIX}<｜fim▁hole｜>{PY_SUFFIX}<｜fim▁end｜>",
            ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "//", "<｜end▁of▁sentence｜>"],
            "deepseek-coder:1.3b-base",
        ),
        "completion",
        "deepseek FIM",
    ),
    Case(
        "continue-codestral-fim",
        "completions",
        continue_fim(
            f"[SUFFIX]{TS_SUFFIX}[PREFIX]+++++ src/util/debounce.ts\n{TS_PREFIX}",
            ["[PREFIX]", "[SUFFIX]", "\n+++++ "],
            "codestral-latest",
        ),
        "completion",
        "codestral FIM",
    ),
    Case(
        "tabby-prompt-suffix",
        "completions",
        {
            "model": "auto",
            "prompt": "# Path: src/cart.py\n# def total(items):\n#     return sum(items)\n"
            + PY_PREFIX,
            "suffix": PY_SUFFIX,
            "max_tokens": 64,
            "temperature": 0.1,
            "stream": True,
            "presence_penalty": 0.0,
        },
        "completion",
        "with suffix",
    ),
    Case(
        "copilot-like-prompt-suffix",
        "completions",
        {
            "prompt": "// Path: src/api.ts\n" + TS_PREFIX,
            "suffix": TS_SUFFIX,
            "max_tokens": 500,
            "temperature": 0,
            "top_p": 1,
            "n": 1,
            "stop": ["\n\n\n"],
            "nwo": "acme/shop",
            "stream": True,
            "extra": {"language": "typescript", "next_indent": 2, "trim_by_indentation": True},
        },
        "completion",
        "with suffix",
    ),
    Case(
        "legacy-prompt-only",
        "completions",
        {
            "model": "auto",
            "prompt": "def fibonacci(n):\n    ",
            "max_tokens": 48,
            "temperature": 0.2,
        },
        "completion",
        "legacy completions prompt",
    ),
    Case(
        "legacy-batch-prompt",
        "completions",
        {"model": "auto", "prompt": ["<fim_prefix>x = <fim_suffix>\n<fim_middle>", "y"]},
        "completion",
        "starcoder FIM",
    ),
    Case("legacy-empty-body", "completions", {}, "completion", "legacy completions endpoint"),
    Case(
        "chat-hole-filler-continue-style",
        "chat",
        chat(
            system(HOLE_FILLER_SYSTEM),
            user(
                f"<QUERY>\n{PY_PREFIX}{{{{FILL_HERE}}}}{PY_SUFFIX}\n</QUERY>\nTASK: Fill the "
                "{{FILL_HERE}} hole. Answer only with the CORRECT completion, and NOTHING ELSE. "
                "Do it now.\n<COMPLETION>"
            ),
            temperature=0.01,
            max_tokens=256,
            stop=["</COMPLETION>"],
        ),
        "completion",
        "{{FILL_HERE}}",
    ),
    Case(
        "chat-hole-filler-parts-content",
        "chat",
        chat(
            {"role": "system", "content": [{"type": "text", "text": HOLE_FILLER_SYSTEM}]},
            user(
                [
                    {
                        "type": "text",
                        "text": f"<QUERY>\n{TS_PREFIX}{{{{FILL_HERE}}}}{TS_SUFFIX}\n</QUERY>",
                    }
                ]
            ),
            temperature=0.2,
        ),
        "completion",
        "{{FILL_HERE}}",
    ),
    Case(
        "chat-hole-filler-few-shot",
        "chat",
        chat(
            system(HOLE_FILLER_SYSTEM),
            user("<QUERY>\ndef add(a, b):\n    {{FILL_HERE}}\n</QUERY>"),
            asst("<COMPLETION>return a + b</COMPLETION>"),
            user(f"<QUERY>\n{PY_PREFIX}{{{{FILL_HERE}}}}{PY_SUFFIX}\n</QUERY>"),
            temperature=0,
            max_tokens=128,
        ),
        "completion",
        "{{FILL_HERE}}",
    ),
    Case(
        "chat-fill-me-codellama-instruct",
        "chat",
        chat(user(f"{PY_PREFIX}<FILL_ME>{PY_SUFFIX}"), temperature=0.1, max_tokens=64),
        "completion",
        "<FILL_ME>",
    ),
    Case(
        "chat-cursor-marker-editor",
        "chat",
        chat(
            system(
                "You are a code completion engine. Output only the code to insert at the cursor."
            ),
            user(f"File: src/util/debounce.ts\n```ts\n{TS_PREFIX}<CURSOR>{TS_SUFFIX}```"),
            temperature=0.0,
            max_tokens=128,
            stream=True,
        ),
        "completion",
        "<CURSOR>",
    ),
    Case(
        "chat-block-cursor-with-completion-stop",
        "chat",
        chat(user(f"{PY_PREFIX}█{PY_SUFFIX}"), stop=["</COMPLETION>"]),
        "completion",
        "█",
    ),
    Case(
        "chat-raw-qwen-fim-in-user",
        "chat",
        chat(
            user(f"<|fim_prefix|>{PY_PREFIX}<|fim_suffix|>{PY_SUFFIX}<|fim_middle|>"), max_tokens=64
        ),
        "completion",
        "qwen FIM markers in chat message",
    ),
    Case(
        "chat-raw-deepseek-fim-in-user",
        "chat",
        chat(user(f"<｜fim▁begin｜>{TS_PREFIX}<｜fim▁hole｜>{TS_SUFFIX}<｜fim▁end｜>")),
        "completion",
        "deepseek FIM",
    ),
    Case(
        "chat-raw-codestral-fim-with-bos",
        "chat",
        chat(user(f"<s>[SUFFIX]{TS_SUFFIX}[PREFIX]{TS_PREFIX}"), temperature=0),
        "completion",
        "codestral FIM markers in chat message",
    ),
    Case(
        "legacy-token-id-prompt",
        "completions",
        {"model": "auto", "prompt": [50256, 318, 257], "max_tokens": 16},
        "completion",
        "legacy completions prompt",
    ),
    Case(
        "zed-edit-prediction-style",
        "chat",
        chat(
            user(
                "## Events\nUser edited src/cart.ts\n\n## Excerpt\n<|editable_region_start|>\n"
                f"{TS_PREFIX}<|user_cursor_is_here|>{TS_SUFFIX}<|editable_region_end|>"
            ),
            temperature=0,
            max_tokens=512,
        ),
        "completion",
        "<|user_cursor_is_here|>",
    ),
]

# ------------------------------------------------------------------ agentic
CODEX_INSTRUCTIONS = (
    "You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI on a "
    "user's computer.\n\n## General\n\n- When searching for text or files, prefer using `rg`."
)
CODEX_TOOLS = [
    {
        "type": "function",
        "name": "shell",
        "description": "Runs a shell command and returns its output.",
        "strict": False,
        "parameters": {"type": "object", "properties": {"command": {"type": "array"}}},
    },
    {"type": "custom", "name": "apply_patch", "description": "Edit files with a patch."},
]
CODEX_HEADERS = {"originator": "codex_cli_rs", "user-agent": "codex_cli_rs/0.58.0 (Linux; x86_64)"}
CLINE_HEADERS = {
    "user-agent": "Cline/3.36.1",
    "http-referer": "https://cline.bot",
    "x-title": "Cline",
}
ROO_HEADERS = {"user-agent": "RooCode/3.30.0", "x-title": "Roo Code"}


def codex_input(*items: dict[str, Any]) -> list[dict[str, Any]]:
    env = "<environment_context>\n  <cwd>/home/dev/shop</cwd>\n</environment_context>"
    first = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": env}]}
    return [first, *items]


AGENTIC_CASES: list[Case] = [
    Case(
        "openai-agents-sdk-chat-tools",
        "chat",
        chat(
            system("You are a triage agent. Hand off billing questions to the billing agent."),
            user("My invoice for May is wrong"),
            tools=[fn_tool("transfer_to_billing_agent"), fn_tool("lookup_invoice")],
            tool_choice="auto",
            parallel_tool_calls=True,
        ),
        "agentic",
        "2 tools declared",
    ),
    Case(
        "continue-agent-native-tools",
        "chat",
        chat(
            system(CONTINUE_AGENT_SYSTEM),
            user("add a --verbose flag to the cli"),
            tools=[
                fn_tool("read_file"),
                fn_tool("edit_existing_file"),
                fn_tool("run_terminal_command"),
            ],
            stream_options={"include_usage": True},
        ),
        "agentic",
        "tools declared",
    ),
    Case(
        "roo-native-tools-multiturn",
        "chat",
        chat(
            system("You are Roo, a highly skilled software engineer."),
            user([{"type": "text", "text": "<task>\nfix the failing cart test\n</task>"}]),
            asst("", tool_calls=[tool_call("call_1", "read_file", '{"path":"src/cart.ts"}')]),
            {"role": "tool", "tool_call_id": "call_1", "content": "export class Cart {}"},
            tools=[fn_tool("read_file"), fn_tool("apply_diff"), fn_tool("attempt_completion")],
            tool_choice="required",
        ),
        "agentic",
        "tools declared",
        ROO_HEADERS,
    ),
    Case(
        "langchain-tool-history-no-tools",
        "chat",
        chat(
            system("You are a helpful assistant."),
            user("What's 3 * 12 and then add the weather in SF?"),
            asst(None, tool_calls=[tool_call("call_a", "multiply", '{"a":3,"b":12}')]),
            {"role": "tool", "tool_call_id": "call_a", "content": "36"},
            user("thanks, summarize"),
            stream=False,
        ),
        "agentic",
        "role 'tool' message in history",
    ),
    Case(
        "assistant-tool-calls-without-results",
        "chat",
        chat(
            user("open the settings file"),
            asst("", tool_calls=[tool_call("call_s", "open_file", '{"path":"settings.json"}')]),
            user("never mind, what's the default port?"),
        ),
        "agentic",
        "assistant tool_calls in history",
    ),
    Case(
        "tool-role-message-only",
        "chat",
        chat(
            user("run the tests"),
            {"role": "tool", "tool_call_id": "x1", "content": "12 passed"},
        ),
        "agentic",
        "role 'tool' message",
    ),
    Case(
        "legacy-functions",
        "chat",
        chat(
            user("book a table for two at 7pm"),
            functions=[{"name": "book_table", "parameters": {"type": "object", "properties": {}}}],
            function_call="auto",
        ),
        "agentic",
        "1 functions declared",
    ),
    Case(
        "legacy-function-role-history",
        "chat",
        chat(
            user("weather?"),
            asst(None, function_call={"name": "get_weather", "arguments": "{}"}),
            {"role": "function", "name": "get_weather", "content": "18C, cloudy"},
        ),
        "agentic",
        "role 'function' message in history",
    ),
    Case(
        "tool-choice-named-function",
        "chat",
        chat(
            user("extract the invoice number"),
            tool_choice={"type": "function", "function": {"name": "extract"}},
        ),
        "agentic",
        "tool_choice set",
    ),
    Case(
        "agent-reads-file-with-fim-markers",
        "chat",
        chat(
            system("You are a coding agent."),
            user("why does the tokenizer test fail?"),
            asst("", tool_calls=[tool_call("c1", "read_file", '{"path":"tests/test_tok.py"}')]),
            {"role": "tool", "tool_call_id": "c1", "content": FILE_WITH_FIM},
            tools=[fn_tool("read_file")],
            temperature=0.0,
        ),
        "agentic",
        "tools declared",
    ),
    Case(
        "cline-xml-first-turn",
        "chat",
        chat(
            system(CLINE_SYSTEM),
            user(
                [
                    {
                        "type": "text",
                        "text": "<task>\nAdd a discount code field to the cart\n</task>",
                    },
                    {"type": "text", "text": ENV_DETAILS},
                ]
            ),
            temperature=0,
        ),
        "agentic",
        "Cline/Roo XML tool protocol",
        CLINE_HEADERS,
    ),
    Case(
        "cline-xml-tool-result-turn",
        "chat",
        chat(
            system(CLINE_SYSTEM),
            user(
                [
                    {"type": "text", "text": "<task>\nrun the tests\n</task>"},
                    {"type": "text", "text": ENV_DETAILS},
                ]
            ),
            asst("<execute_command>\n<command>npm test</command>\n</execute_command>"),
            user(
                [
                    {"type": "text", "text": "[execute_command for 'npm test'] Result:"},
                    {
                        "type": "text",
                        "text": "Command executed.\nOutput:\n 3 failing\n" + FILE_WITH_FIM,
                    },
                    {"type": "text", "text": ENV_DETAILS},
                ]
            ),
        ),
        "agentic",
        "in system prompt",
        CLINE_HEADERS,
    ),
    Case(
        "roo-old-xml-tools",
        "chat",
        chat(
            system(ROO_SYSTEM_OLD), user("<task>\nrename Cart to Basket\n</task>\n" + ENV_DETAILS)
        ),
        "agentic",
        "Cline/Roo XML tool protocol",
        ROO_HEADERS,
    ),
    Case(
        "cline-turns-with-custom-system",
        "chat",
        chat(
            system("Be concise."),
            user("<task>\nupgrade react to 19\n</task>"),
            asst("I'll read package.json first."),
            user('[read_file for \'package.json\'] Result:\n{"dependencies": {"react": "18.3.1"}}'),
        ),
        "agentic",
        "in user turn",
    ),
    Case(
        "continue-agent-mode-no-tools-field",
        "chat",
        chat(system(CONTINUE_AGENT_SYSTEM), user("refactor the parser into two modules")),
        "agentic",
        "Continue agent mode",
    ),
    Case(
        "continue-system-message-tools",
        "chat",
        chat(
            system(CONTINUE_SYSTEM_TOOLS),
            user("what does src/index.ts export?"),
            asst("```tool\nTOOL_NAME: read_file\nBEGIN_ARG: filepath\nsrc/index.ts\nEND_ARG\n```"),
            user("export { run } from './run'"),
        ),
        "agentic",
        "Continue agent mode",
    ),
    Case(
        "continue-system-tools-only",
        "chat",
        chat(
            system(CONTINUE_SYSTEM_TOOLS.replace(CONTINUE_AGENT_SYSTEM, "Be helpful.")),
            user("list the files in src"),
        ),
        "agentic",
        "Continue system-message tools",
    ),
    Case(
        "aider-editblock",
        "chat",
        chat(
            system(AIDER_EDITBLOCK_SYSTEM),
            user(
                "I have *added these files to the chat*.\n\n"
                "src/cart.py\n```python\nclass Cart: ...\n```"
            ),
            asst("Ok, any changes I propose will be to those files."),
            user("add a remove_item method"),
            temperature=0,
            stream=True,
        ),
        "agentic",
        "Aider",
    ),
    Case(
        "aider-architect",
        "chat",
        chat(system(AIDER_ARCHITECT_SYSTEM), user("split the billing module by provider")),
        "agentic",
        "Aider architect",
    ),
    Case(
        "langchain-react-prompt",
        "chat",
        chat(user(REACT_PROMPT), stop=["\nObservation:"], temperature=0),
        "agentic",
        "ReAct tool list",
    ),
    Case(
        "hermes-tools-in-system",
        "chat",
        chat(system(HERMES_SYSTEM), user("weather in Oslo?")),
        "agentic",
        "Hermes-style tool list",
    ),
    Case(
        "codex-cli-responses-tools",
        "responses",
        {
            "model": "auto",
            "instructions": CODEX_INSTRUCTIONS,
            "input": codex_input(
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "fix the lint"}],
                }
            ),
            "tools": CODEX_TOOLS,
            "tool_choice": "auto",
            "parallel_tool_calls": False,
            "reasoning": {"effort": "medium", "summary": "auto"},
            "store": False,
            "stream": True,
            "include": ["reasoning.encrypted_content"],
            "prompt_cache_key": "0199a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
        },
        "agentic",
        "2 tools declared",
        CODEX_HEADERS,
    ),
    Case(
        "responses-function-call-output-no-tools",
        "responses",
        {
            "model": "auto",
            "input": codex_input(
                {
                    "type": "function_call",
                    "call_id": "call_9",
                    "name": "shell",
                    "arguments": '{"command":["ls"]}',
                },
                {"type": "function_call_output", "call_id": "call_9", "output": "README.md\nsrc\n"},
            ),
        },
        "agentic",
        "responses input item 'function_call'",
    ),
    Case(
        "responses-agents-sdk-tool-output-first",
        "responses",
        {
            "model": "auto",
            "input": [{"type": "function_call_output", "call_id": "c", "output": '{"ok": true}'}],
            "previous_response_id": "resp_123",
        },
        "agentic",
        "function_call_output",
    ),
    Case(
        "zed-agent-native-tools",
        "chat",
        chat(
            system("You are a highly skilled software engineer with extensive knowledge."),
            user([{"type": "text", "text": "Make the sidebar collapsible"}]),
            tools=[
                fn_tool("read_file"),
                fn_tool("edit_file"),
                fn_tool("terminal"),
                fn_tool("grep"),
            ],
            tool_choice="auto",
            stream=True,
        ),
        "agentic",
        "4 tools declared",
    ),
    Case(
        "cursor-like-agent-parallel-tool-calls",
        "chat",
        chat(
            system("You are a powerful agentic AI coding assistant."),
            user("<user_query>\nwhy is login slow?\n</user_query>"),
            asst(
                "",
                tool_calls=[
                    tool_call("t1", "codebase_search", '{"query":"login"}'),
                    tool_call("t2", "grep_search", '{"query":"bcrypt"}'),
                ],
            ),
            {"role": "tool", "tool_call_id": "t1", "content": "src/auth/login.ts"},
            {"role": "tool", "tool_call_id": "t2", "content": "src/auth/hash.ts: bcrypt(14)"},
            tools=[fn_tool("codebase_search"), fn_tool("grep_search"), fn_tool("edit_file")],
        ),
        "agentic",
        "3 tools declared",
    ),
    Case(
        "multi-turn-chat-with-cline-ua",
        "chat",
        chat(
            user("how should I structure the cart module?"),
            asst("Split it into model, service and API layers."),
            user("ok do that"),
        ),
        "agentic",
        "header: agent client User-Agent 'Cline/",
        CLINE_HEADERS,
    ),
    Case(
        "codex-originator-multiturn-responses",
        "responses",
        {
            "model": "auto",
            "input": [
                {"role": "user", "content": "explain the build"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "It uses make."}],
                },
                {"role": "user", "content": "continue"},
            ],
        },
        "agentic",
        "originator 'codex_cli_rs'",
        {"originator": "codex_cli_rs"},
    ),
    Case(
        "codex-followup-previous-response-id",
        "responses",
        {"model": "auto", "input": "and now the tests", "previous_response_id": "resp_42"},
        "agentic",
        "originator 'codex_exec'",
        {"originator": "codex_exec"},
    ),
]

# ------------------------------------------------------------------ qa
QA_CASES: list[Case] = [
    Case(
        "continue-chat-mode",
        "chat",
        chat(
            system(CONTINUE_CHAT_SYSTEM),
            user("```python src/cart.py\nclass Cart: ...\n```\nwhy is total() slow?"),
            stream_options={"include_usage": True},
            max_tokens=4096,
        ),
        "qa",
        "Continue chat mode",
    ),
    Case(
        "aider-ask-mode",
        "chat",
        chat(
            system(AIDER_ASK_SYSTEM),
            user(
                "Here are summaries of some files present in my git repository:\n\n"
                "src/cart.py:\n│class Cart:"
            ),
            asst("Ok, I won't try and edit those files without asking first."),
            user("where is the discount applied?"),
        ),
        "qa",
        "Aider ask mode",
    ),
    Case(
        "open-webui-plain-chat",
        "chat",
        {
            "model": "auto",
            "messages": [
                {
                    "role": "user",
                    "content": "What's the difference between a process and a thread?",
                },
                {"role": "assistant", "content": "A process has its own address space..."},
                {"role": "user", "content": "and green threads?"},
            ],
            "stream": True,
            "params": {},
            "features": {"web_search": False},
        },
        "qa",
        "default",
    ),
    Case(
        "llm-cli-one-shot",
        "chat",
        {
            "model": "auto",
            "messages": [{"role": "user", "content": "regex for ISO dates"}],
            "stream": True,
        },
        "qa",
        "default",
    ),
    Case(
        "zed-assistant-inline-question",
        "chat",
        chat(
            system("You are an expert engineer. Answer concisely."),
            user([{"type": "text", "text": "Explain this:\n```rust\nlet x = y.as_ref()?;\n```"}]),
            temperature=1.0,
        ),
        "qa",
        "default",
    ),
    Case(
        "cline-commit-message-side-job",
        "chat",
        chat(
            user(
                "Based on the following git diff, generate a concise and descriptive commit "
                "message following conventional commit format:\n\n"
                "diff --git a/src/cart.ts b/src/cart.ts\n"
                "+  applyDiscount(code: string) {}\n"
            ),
            stream=True,
        ),
        "qa",
        "commit message",
        CLINE_HEADERS,
    ),
    Case(
        "roo-enhance-prompt-side-job",
        "chat",
        chat(
            user(
                "Generate an enhanced version of this prompt (reply with only the enhanced prompt"
                " - no conversation, explanations, lead-in, bullet points): Improve this prompt:"
                " make the cart faster"
            )
        ),
        "qa",
        "prompt rewriting",
        ROO_HEADERS,
    ),
    Case(
        "open-webui-title-generation",
        "chat",
        chat(
            user(
                "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the "
                "chat history.\n### Chat History:\n<chat_history>\nUSER: what is a monad\n"
                "</chat_history>"
            ),
            stream=False,
        ),
        "qa",
        "title",
    ),
    Case(
        "cline-ua-one-shot-no-markers",
        "chat",
        chat(user("say hi")),
        "qa",
        "ignored for a one-shot request",
        CLINE_HEADERS,
    ),
    Case(
        "chat-mentions-fim-token-multiturn",
        "chat",
        chat(
            user("what do these tokens do?"),
            asst("Which tokens?"),
            user("<|fim_prefix|> and <|fim_suffix|> in qwen coder"),
        ),
        "qa",
        "default",
    ),
    Case(
        "chat-block-char-question-no-hints",
        "chat",
        chat(user("my progress bar prints █ instead of # on Windows, why?"), temperature=0.7),
        "qa",
        "ignored without completion-like sampling",
    ),
    Case(
        "hole-marker-in-long-chat",
        "chat",
        chat(
            user("I use {{FILL_HERE}} in my prompt template"),
            asst("Nice."),
            user("how do I escape {{FILL_HERE}} in jinja?"),
        ),
        "qa",
        "default",
    ),
    Case(
        "responses-plain-string",
        "responses",
        {"model": "auto", "input": "Write a haiku about segfaults.", "instructions": "Be brief."},
        "qa",
        "default",
    ),
    Case(
        "responses-message-items",
        "responses",
        {
            "model": "auto",
            "input": [
                {"role": "developer", "content": "You are in chat mode."},
                {"role": "user", "content": [{"type": "input_text", "text": "What is RAII?"}]},
            ],
            "stream": True,
        },
        "qa",
        "Continue chat mode",
    ),
    Case(
        "responses-reasoning-items-no-tools",
        "responses",
        {
            "model": "auto",
            "input": [
                {"role": "user", "content": "why is the sky blue"},
                {"type": "reasoning", "id": "rs_1", "summary": []},
            ],
        },
        "qa",
        "default",
    ),
    Case(
        "chat-empty-tools-and-null-choice",
        "chat",
        chat(user("what's new in python 3.13?"), tools=[], tool_choice=None, functions=None),
        "qa",
        "default",
    ),
    Case(
        "one-shot-question-starting-with-fim-token",
        "chat",
        chat(user("<|fim_prefix|> what does this token do in qwen coder?"), max_tokens=256),
        "qa",
        "default",
    ),
    Case(
        "one-shot-question-ending-with-fim-token",
        "chat",
        chat(user("In a qwen FIM prompt, what comes right after <|fim_middle|>"), temperature=0),
        "qa",
        "default",
    ),
    Case(
        "one-shot-question-about-task-tags",
        "chat",
        chat(user("<task> tags in Cline: how are they parsed?")),
        "qa",
        "default",
    ),
    Case(
        "embeddings",
        "embeddings",
        {"model": "text-embedding-3-small", "input": ["def foo(): pass"]},
        "qa",
        "embeddings",
    ),
    Case(
        "completions-endpoint-with-messages",
        "completions",
        {"model": "auto", "messages": [{"role": "user", "content": "hello"}]},
        "qa",
        "classified as chat",
    ),
]

# ------------------------------------------------------------------ header override
OVERRIDE_CASES: list[Case] = [
    Case(
        "override-qa-on-fim",
        "completions",
        continue_fim(f"<|fim_prefix|>{PY_PREFIX}<|fim_suffix|><|fim_middle|>", COMPLETION_STOPS),
        "qa",
        "header: x-laneway-lane=qa",
        {"x-laneway-lane": "qa"},
    ),
    Case(
        "override-agentic-on-plain-chat",
        "chat",
        chat(user("hi")),
        "agentic",
        "header: x-laneway-lane=agentic",
        {"x-laneway-lane": " Agentic "},
    ),
    Case(
        "override-completion-on-tools",
        "chat",
        chat(user("x"), tools=[fn_tool("f")]),
        "completion",
        "explicit override",
        {"x-laneway-lane": "completion"},
    ),
    Case(
        "override-invalid-ignored",
        "chat",
        chat(user("x"), tools=[fn_tool("f")]),
        "agentic",
        "invalid x-laneway-lane='fast' ignored",
        {"x-laneway-lane": "fast"},
    ),
    Case(
        "override-empty-ignored",
        "completions",
        {"prompt": "x", "suffix": "y"},
        "completion",
        "invalid x-laneway-lane='' ignored",
        {"x-laneway-lane": ""},
    ),
]

ALL_CASES: list[Case] = COMPLETION_CASES + AGENTIC_CASES + QA_CASES + OVERRIDE_CASES
