"""The requests the benchmark sends: a small qa chat, a FIM completion, and the qa question
through Anthropic's Messages API (translated to an OpenAI-compatible model, and native).

Each body is a JSON template with one `__N__` placeholder; the load generator replaces it
with a per-request counter (unique bodies: no cache can answer) or leaves a fixed value in
(identical bodies: a cache may answer).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

PLACEHOLDER = "__N__"

_QUESTION = """Why does this function return None for an empty list instead of 0?
I expected `total([])` to be 0. (ticket __N__)

```python
def total(items):
    if not items:
        return
    acc = 0
    for item in items:
        acc += item.price * item.quantity
    return acc
```"""

_PREFIX = '''import csv
from dataclasses import dataclass
from pathlib import Path

# revision __N__


@dataclass
class Row:
    sku: str
    price: float
    quantity: int


def read_rows(path: Path) -> list[Row]:
    with path.open(newline="") as f:
        return [Row(r["sku"], float(r["price"]), int(r["quantity"])) for r in csv.DictReader(f)]


def total(rows: list[Row]) -> float:
    """Sum of price * quantity over all rows."""
    '''


_SUFFIX = """


def main() -> None:
    rows = read_rows(Path("orders.csv"))
    print(f"{len(rows)} rows, total {total(rows):.2f}")


if __name__ == "__main__":
    main()
"""


@dataclass(frozen=True)
class Body:
    name: str  # what the table calls it
    path: str
    template: str  # JSON text with PLACEHOLDER in it

    def render(self, n: str = "0") -> bytes:
        return self.template.replace(PLACEHOLDER, n).encode()


def qa_chat(model: str) -> Body:
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a helpful coding assistant. Be concise."},
            {"role": "user", "content": _QUESTION},
        ],
        "temperature": 0,
        "max_tokens": 64,
    }
    return Body("qa chat", "/v1/chat/completions", orjson.dumps(body).decode())


def fim_completion(model: str) -> Body:
    body = {
        "model": model,
        "prompt": f"<|fim_prefix|>{_PREFIX}<|fim_suffix|>{_SUFFIX}<|fim_middle|>",
        "temperature": 0.2,
        "max_tokens": 48,
        "stop": ["\n\n"],
    }
    return Body("FIM completion", "/v1/completions", orjson.dumps(body).decode())


# laneway's Messages model in the bench config (provider: anthropic, on the fleet).
MESSAGES_MODEL = "claude-fleet"


def _messages(model: str, name: str) -> Body:
    body = {
        "model": model,
        "system": "You are a helpful coding assistant. Be concise.",
        "messages": [{"role": "user", "content": _QUESTION}],
        "temperature": 0,
        "max_tokens": 64,
    }
    return Body(name, "/v1/messages", orjson.dumps(body).decode())


def qa_messages(model: str) -> Body:
    """A Messages client routed like the chat row: on laneway to an OpenAI-compatible
    model, so each answer is translated both ways."""
    return _messages(model, "qa messages (translated)")


def qa_messages_native(model: str) -> Body:
    """Pinned to the Messages model whatever the target: laneway passes it through."""
    return _messages(MESSAGES_MODEL, "qa messages (native)")


KINDS = {"qa": qa_chat, "fim": fim_completion, "messages": qa_messages,
         "messages-native": qa_messages_native}
