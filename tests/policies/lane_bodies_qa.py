"""Realistic qa-lane bodies: chat and one-shot questions.

Loaded by test_lanes.py via importlib; the shared builders are in lane_bodies_common.py.
"""

from __future__ import annotations

from lane_bodies_common import (
    AIDER_ASK_SYSTEM,
    CLINE_HEADERS,
    CONTINUE_CHAT_SYSTEM,
    ROO_HEADERS,
    Case,
    asst,
    chat,
    system,
    user,
)

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
    Case(
        # Asking about completion engines, with tags in the question: no cursor, no engine.
        "question-about-prefix-suffix-tags",
        "chat",
        chat(user("What do the <prefix> and <suffix> tags mean in a FIM template?")),
        "qa",
        "default",
    ),
    Case(
        # A long conversation under an ordinary system prompt that mentions completion.
        "chat-mentioning-completion-engines",
        "chat",
        chat(system("You are a helpful assistant. Complete answers are better."),
             user("How does a code completion engine rank suggestions?"),
             asst("By likelihood and context."),
             user("And where does the <cursor> go?")),
        "qa",
        "default",
    ),
]
