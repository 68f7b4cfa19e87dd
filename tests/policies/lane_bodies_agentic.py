"""Realistic agentic-lane bodies: coding agents, tool loops and their side jobs.

Loaded by test_lanes.py via importlib; the shared builders are in lane_bodies_common.py.
"""

from __future__ import annotations

from typing import Any

from lane_bodies_common import (
    AIDER_ARCHITECT_SYSTEM,
    AIDER_EDITBLOCK_SYSTEM,
    CLINE_HEADERS,
    CLINE_SYSTEM,
    CONTINUE_AGENT_SYSTEM,
    CONTINUE_SYSTEM_TOOLS,
    ENV_DETAILS,
    FILE_WITH_FIM,
    HERMES_SYSTEM,
    REACT_PROMPT,
    ROO_HEADERS,
    ROO_SYSTEM_OLD,
    Case,
    asst,
    chat,
    fn_tool,
    system,
    tool_call,
    user,
)

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
