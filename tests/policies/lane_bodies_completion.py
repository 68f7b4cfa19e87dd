"""Realistic completion-lane bodies: editor autocomplete and fill-in-the-middle.

Loaded by test_lanes.py via importlib; the shared builders are in lane_bodies_common.py.
"""

from __future__ import annotations

from lane_bodies_common import (
    COMPLETION_STOPS,
    HOLE_FILLER_SYSTEM,
    MINUET_SYSTEM,
    PY_PREFIX,
    PY_SUFFIX,
    TS_PREFIX,
    TS_SUFFIX,
    Case,
    asst,
    chat,
    continue_fim,
    system,
    user,
)

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
    Case(
        # minuet-ai.nvim's default chat template: system prompt, few-shot turns, then the
        # code after and before the cursor in tagged sections, the cursor marker last.
        "minuet-completion-engine-over-chat",
        "chat",
        chat(
            system(MINUET_SYSTEM),
            user("# language: python\n<contextAfterCursor>\n    return a + b\n"
                 "<contextBeforeCursor>\ndef add(a, b):\n<cursorPosition>"),
            asst("    \"\"\"Add two numbers.\"\"\"\n<endCompletion>\n"),
            user(f"# language: python\n<contextAfterCursor>\n{PY_SUFFIX}\n"
                 f"<contextBeforeCursor>\n{PY_PREFIX}<cursorPosition>"),
            max_tokens=256, stream=True,
        ),
        "completion",
        "completion-engine system prompt",
    ),
    Case(
        # cmp-ai style: the system prompt casts a coding companion; prefix and suffix tags.
        "cmp-ai-coding-companion-over-chat",
        "chat",
        chat(
            system("You are a coding companion. You need to suggest code for the language "
                   "python. Given some code prefix and suffix for context, output code which "
                   "should follow the prefix code."),
            user(f"<begin_code_prefix>{PY_PREFIX}<end_code_prefix>"
                 f"<begin_code_suffix>{PY_SUFFIX}<end_code_suffix><begin_code_middle>"),
            temperature=0.1,
        ),
        "completion",
        "<begin_code_prefix> sections",
    ),
    Case(
        "tagged-sections-and-cursor-without-system-prompt",
        "chat",
        chat(user(f"<code_before_cursor>\n{TS_PREFIX}\n</code_before_cursor>\n<cursor>\n"
                  f"<code_after_cursor>\n{TS_SUFFIX}\n</code_after_cursor>")),
        "completion",
        "<code_before_cursor> sections and cursor marker",
    ),
]
