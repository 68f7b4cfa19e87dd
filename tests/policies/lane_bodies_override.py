"""Bodies whose lane is set (or not) by the x-laneway-lane header override.

Loaded by test_lanes.py via importlib; the shared builders are in lane_bodies_common.py.
"""

from __future__ import annotations

from lane_bodies_common import (
    COMPLETION_STOPS,
    PY_PREFIX,
    Case,
    chat,
    continue_fim,
    fn_tool,
    user,
)

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
