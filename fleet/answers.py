"""Deterministic answer content: prose for chat, a few lines of code for completions.

Everything is derived from a per-request seed (a hash of the request's meaningful fields),
so the same request always gets the same answer and different requests differ. Content is
built as a list of "pieces" (one piece = one token = roughly one word, with its leading
whitespace), which is also how it is streamed.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

_VOCABULARY = (
    "the function returns a cached value when the key exists and otherwise computes it "
    "from the request this keeps latency low for repeated calls you can refactor the loop "
    "into a generator so memory stays flat while the parser streams tokens to the client "
    "each module owns its state and tests cover the edge cases such as empty input timeouts "
    "and retries the handler validates the payload before it touches the database then "
    "logs a short summary with the elapsed time"
)
_WORDS = tuple(_VOCABULARY.split())
_NAMES = ("result", "items", "value", "total", "config", "node", "buffer", "count", "data")
_FUNCS = ("compute", "load", "parse", "render", "merge", "fetch", "validate", "encode")
_CODE_TEMPLATES = (
    "{a} = {f}({b})",
    "{a}.append({b})",
    "if {a} is None:",
    "return {a}",
    "for {a} in {b}:",
    "{a} += len({b})",
    "{a} = {f}({b}, {n})",
    "yield {f}({a})",
)


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str  # JSON text, as OpenAI sends it
    call_id: str  # chat tool_call id / responses call_id
    item_id: str  # responses function_call item id


@dataclass(frozen=True, slots=True)
class Answer:
    pieces: tuple[str, ...]  # text split as streamed; "".join(pieces) is the content
    finish_reason: str  # "stop" | "length" | "tool_calls"
    completion_tokens: int
    tool_call: ToolCall | None = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)


# Fields that change what a real model would say; stream/stop/temperature do not change the
# content here, so a stopped answer is a prefix of the unstopped one (useful in tests).
_SEED_FIELDS = (
    "model", "messages", "prompt", "suffix", "input", "instructions", "tools", "tool_choice",
    "max_tokens", "max_completion_tokens", "max_output_tokens", "n", "seed",
)


def request_seed(body: Mapping[str, Any]) -> int:
    subset = {key: body[key] for key in _SEED_FIELDS if key in body}
    raw = orjson.dumps(subset, option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "little")


class _Draws:
    """Deterministic draws from a seed: a SHAKE-128 byte stream.

    Seeding random.Random costs ~15 us, several times a whole zero-latency request budget;
    one SHAKE call gives every byte a request needs in ~1 us.
    """

    __slots__ = ("_at", "data")

    def __init__(self, seed: int, size: int) -> None:
        self.data = hashlib.shake_128(seed.to_bytes(8, "little")).digest(max(size, 8))
        self._at = 0

    def below(self, n: int) -> int:
        data, at = self.data, self._at
        self._at = at + 2
        return (data[at % len(data)] << 8 | data[(at + 1) % len(data)]) % n

    def pick(self, options: Sequence[str]) -> str:
        at = self._at
        self._at = at + 1
        return options[self.data[at % len(self.data)] % len(options)]


def _prose(draw: _Draws, count: int) -> list[str]:
    # One comprehension over the byte stream: a method call per word would cost more than
    # the rest of a zero-latency request.
    data = draw.data
    words = [_WORDS[b % len(_WORDS)] for b in data[:count]]
    start, at = 0, count
    while start < count:  # sentences of 6 to 12 words
        words[start] = words[start].capitalize()
        end = min(count, start + 6 + data[at % len(data)] % 7)
        words[end - 1] += "."
        start, at = end, at + 1
    return [words[0], *[" " + w for w in words[1:]]]


def _code(draw: _Draws, count: int, indent: str) -> list[str]:
    pieces: list[str] = []
    first = True
    while len(pieces) < count:
        line = draw.pick(_CODE_TEMPLATES).format(
            a=draw.pick(_NAMES), b=draw.pick(_NAMES), f=draw.pick(_FUNCS), n=1 + draw.below(64)
        )
        words = line.split(" ")
        # The cursor already sits at the indentation, so only later lines carry it.
        pieces.append(words[0] if first else "\n" + indent + words[0])
        pieces.extend(" " + w for w in words[1:])
        first = False
    return pieces[:count]


def _cut_at_stop(pieces: list[str], stop: Sequence[str]) -> tuple[list[str], bool]:
    text = "".join(pieces)
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    if cut < 0:
        return pieces, False
    kept: list[str] = []
    used = 0
    for piece in pieces:
        if used + len(piece) >= cut:
            if cut > used:
                kept.append(piece[: cut - used])
            break
        kept.append(piece)
        used += len(piece)
    return kept, True


def text_answer(
    seed: int, *, code: bool, max_tokens: int | None, stop: Sequence[str], indent: str = ""
) -> Answer:
    # The natural length comes from the seed itself; the content from its byte stream.
    natural = 6 + (seed >> 40) % 19 if code else 12 + (seed >> 40) % 49
    count = natural if max_tokens is None else min(natural, max_tokens)
    draw = _Draws(seed, 10 * count + 16)  # code lines take 5 draws of 2 bytes
    pieces = _code(draw, count, indent) if code else _prose(draw, count)
    finish = "length" if count < natural else "stop"
    pieces, stopped = _cut_at_stop(pieces, stop)
    if stopped:
        finish = "stop"
    return Answer(tuple(pieces), finish, len(pieces))


def _argument_value(name: str, schema: Any, draw: _Draws) -> Any:
    kind = schema.get("type") if isinstance(schema, dict) else None
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if isinstance(schema, dict) and isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if kind == "integer":
        return 1 + draw.below(100)
    if kind == "number":
        return draw.below(10000) / 100
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    lowered = name.lower()
    if "path" in lowered or "file" in lowered:
        return f"src/{draw.pick(_NAMES)}.py"
    if "command" in lowered or lowered == "cmd":
        return "ls -la"
    return f"{lowered}-{100 + draw.below(900)}"


def tool_call_answer(seed: int, name: str, parameters: Any) -> Answer:
    """A call to `name` with JSON arguments filling the schema's required parameters."""
    draw = _Draws(seed ^ 0x5EED, 256)
    args: dict[str, Any] = {}
    if isinstance(parameters, dict):
        props = parameters.get("properties")
        props = props if isinstance(props, dict) else {}
        required = parameters.get("required")
        for key in required if isinstance(required, list) else []:
            args[str(key)] = _argument_value(str(key), props.get(key), draw)
    arguments = orjson.dumps(args).decode()
    token = f"{seed:016x}{draw.below(1 << 16):04x}{draw.below(1 << 16):04x}"
    call = ToolCall(name=name, arguments=arguments, call_id=f"call_{token}", item_id=f"fc_{token}")
    tokens = max(1, (len(name) + len(arguments) + 3) // 4)
    return Answer((), "tool_calls", tokens, call)


# (family, prefix marker, suffix marker, middle marker); codestral is handled apart because
# it writes the suffix first.
_FIM_MARKERS = (
    ("qwen", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    ("starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    ("codellama", "<PRE>", "<SUF>", "<MID>"),
    ("deepseek", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
)


def split_fim(prompt: str) -> tuple[str, str, str] | None:
    """(family, prefix, suffix) when the prompt carries FIM markers, else None."""
    for family, pre, suf, mid in _FIM_MARKERS:
        start = prompt.find(pre)
        hole = prompt.find(suf, start + len(pre)) if start >= 0 else -1
        if hole < 0:
            continue
        end = prompt.find(mid, hole)
        prefix = prompt[start + len(pre) : hole]
        suffix = prompt[hole + len(suf) : end if end >= 0 else len(prompt)]
        if family == "codellama":  # "<PRE> P <SUF>S <MID>": the template adds spaces
            prefix = prefix.removeprefix(" ").removesuffix(" ")
            suffix = suffix.removesuffix(" ")
        return family, prefix, suffix
    s_at = prompt.find("[SUFFIX]")
    p_at = prompt.find("[PREFIX]", s_at + 1) if s_at >= 0 else -1
    if p_at >= 0:
        return "codestral", prompt[p_at + len("[PREFIX]") :], prompt[s_at + len("[SUFFIX]") : p_at]
    return None


def cursor_indent(prefix: str) -> str:
    """The indentation of the line the cursor is on, used to indent generated lines."""
    line = prefix.rsplit("\n", 1)[-1]
    return line[: len(line) - len(line.lstrip(" \t"))]


def embedding(model: str, text: str, dims: int, as_base64: bool) -> list[float] | str:
    """A unit vector derived from (model, text); base64 = little-endian float32, as OpenAI."""
    raw = hashlib.shake_128(f"{model}\x00{text}".encode()).digest(2 * dims)
    vector = [v / 32767.5 - 1.0 for v in struct.unpack(f"<{dims}H", raw)]
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    vector = [v / norm for v in vector]
    if as_base64:
        return base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
    return vector
