"""Agent conversations as agent tools write them: OpenAI tools (Continue agent mode, most
agent SDKs) and Cline's XML tools described in the system prompt. Pure builders.

An agent's context grows with every step: the whole history (tool calls, file contents,
test logs) is sent again each time, which is what makes this lane expensive.
"""

from __future__ import annotations

from typing import Any

from demo.bodies import SourceFile

TASKS = (
    "The completion cache returns stale answers after a config reload. Find out why and fix it.",
    "Add a --dry-run flag to the CLI that prints the routing decision without calling a model.",
    "Tests in tests/e2e are flaky on slow machines. Find the race and make them reliable.",
    "Refactor the upstream client so that connect and read timeouts are configurable per model.",
)
NUDGES = (
    "Good. Now run the test suite.",
    "Look at the module that calls this too.",
    "Apply the fix.",
    "Check the failing test again.",
)

_AGENT_SYSTEM = (
    "<important_rules>\n  You are in agent mode.\n\n  If you need to use multiple tools, you can "
    "call multiple read-only tools simultaneously.\n  Always include the language and file "
    "name in the info string when you write code blocks.\n</important_rules>"
)


def _fn(name: str, description: str, **props: str) -> dict[str, Any]:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "required": list(props),
                       "properties": {k: {"type": "string", "description": v}
                                      for k, v in props.items()}}}}


TOOLS: list[dict[str, Any]] = [
    _fn("read_file", "Read a file of the workspace.", filepath="Path relative to the root"),
    _fn("edit_existing_file", "Replace a file's contents.", filepath="Path relative to the root",
        changes="The new contents"),
    _fn("run_terminal_command", "Run a shell command in the workspace.",
        command="The command line"),
    _fn("grep_search", "Search the workspace with ripgrep.", query="A regular expression"),
]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)


def tools_body(messages: list[dict[str, Any]], tool: str | None) -> dict[str, Any]:
    """One step of an OpenAI-tools agent. `tool` plays the model's pick of the next tool
    (the simulated fleet calls whichever tool `tool_choice` names)."""
    choice: Any = {"type": "function", "function": {"name": tool}} if tool else "auto"
    return {"model": "auto", "stream": True, "stream_options": {"include_usage": True},
            "tools": TOOLS, "tool_choice": choice, "parallel_tool_calls": False,
            "messages": [{"role": "system", "content": _AGENT_SYSTEM}, *messages]}


def long_test_log(seed: int, failing: int = 3, tests: int = 900) -> str:
    """A long pytest log: the kind of tool output the agentic lane's budget cuts."""
    lines = [f"tests/test_mod{(seed + i) % 37}.py::test_case_{i} PASSED"
             f"{' ' * (8 + i % 30)}[{100 * (i + 1) // tests:3d}%]" for i in range(tests)]
    for k in range(failing):
        lines.append(f"FAILED tests/test_mod{k}.py::test_case_{k * 7} - AssertionError: "
                     f"expected 'hit', got 'miss' (run {seed})")
    lines.append(f"===== {failing} failed, {tests - failing} passed in 41.7{seed % 10}s =====")
    return "\n".join(lines)


def tool_result(tool: str, arguments: dict[str, Any], files: tuple[SourceFile, ...],
                seed: int) -> str:
    """What the workspace answers to a tool call: real file contents, long test logs."""
    f = files[seed % len(files)]
    if tool == "read_file":
        return f.text
    if tool == "run_terminal_command":
        return long_test_log(seed)
    if tool == "grep_search":
        hits = [f"{g.path}:{n + 1}:{line}" for g in files[:4]
                for n, line in enumerate(g.text.splitlines()) if "def " in line]
        return "\n".join(hits[:120])
    return f"Edited {arguments.get('filepath', f.path)}: 12 lines changed."


# -- Cline: tools as XML in the system prompt -------------------------------------------------

CLINE_SYSTEM = """You are Cline, a highly skilled software engineer with extensive knowledge in \
many programming languages, frameworks, design patterns, and best practices.

====

TOOL USE

You have access to a set of tools that are executed upon the user's approval. You can use one \
tool per message, and will receive the result of that tool use in the user's response. You use \
tools step-by-step to accomplish a given task, with each tool use informed by the result of \
the previous tool use.

# Tool Use Formatting

Tool use is formatted using XML-style tags. The tool name is enclosed in opening and closing \
tags, and each parameter is similarly enclosed within its own set of tags.

# Tools

## execute_command
Description: Request to execute a CLI command on the system.
Usage:
<execute_command>
<command>Your command here</command>
<requires_approval>true or false</requires_approval>
</execute_command>

## read_file
Description: Request to read the contents of a file at the specified path.
Usage:
<read_file>
<path>File path here</path>
</read_file>

## replace_in_file
Description: Request to replace sections of content in an existing file using SEARCH/REPLACE \
blocks that define exact changes to specific parts of the file.
Usage:
<replace_in_file>
<path>File path here</path>
<diff>Search and replace blocks here</diff>
</replace_in_file>

## attempt_completion
Description: After each tool use, the user will respond with the result of that tool use. Once \
you've received the results of tool uses and can confirm that the task is complete, use this \
tool to present the result of your work to the user.
Usage:
<attempt_completion>
<result>Your final result description here</result>
</attempt_completion>

====

RULES

- Your current working directory is: /home/dev/laneway
- Do not ask for more information than necessary.
"""

CLINE_TOOLS = ("read_file", "execute_command", "read_file", "replace_in_file")


def environment_details(files: tuple[SourceFile, ...], step: int) -> str:
    visible = "\n".join(f.path for f in files[:3])
    return (f"<environment_details>\n# VSCode Visible Files\n{visible}\n\n# VSCode Open Tabs\n"
            f"{visible}\n\n# Current Time\n2026-03-02 10:{step:02d}:00 AM\n\n# Current Mode\n"
            "ACT MODE\n</environment_details>")


def cline_task(task: str, files: tuple[SourceFile, ...]) -> dict[str, Any]:
    return {"role": "user",
            "content": f"<task>\n{task}\n</task>\n\n{environment_details(files, 0)}"}


def cline_result(tool: str, files: tuple[SourceFile, ...], step: int) -> dict[str, Any]:
    """Cline's next user turn: the tool's result, then the environment again."""
    f = files[step % len(files)]
    if tool == "execute_command":
        label, result = "execute_command for 'pytest -q'", long_test_log(step)
    elif tool == "replace_in_file":
        label, result = f"replace_in_file for '{f.path}'", "The content was successfully saved."
    else:
        label, result = f"read_file for '{f.path}'", f.text
    return {"role": "user", "content": f"[{label}] Result:\n{result}\n\n"
                                       f"{environment_details(files, step)}"}


def cline_body(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"model": "auto", "stream": True, "stream_options": {"include_usage": True},
            "temperature": 0,
            "messages": [{"role": "system", "content": CLINE_SYSTEM}, *messages]}
