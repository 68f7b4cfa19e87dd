"""The OpenAI front ends: chat completions, legacy completions, Responses, embeddings.

They differ in their request shape (shapes.py) and in how a stream ends; the rest is the
OpenAI error shape (`Frontend`'s defaults). Upstreams that speak the same API (vLLM,
SGLang, OpenAI, the fleet) get the client's body with laneway's edits only.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from policies.lanes import Endpoint
from router.errors import InvalidRequest
from router.frontends import shapes
from router.frontends.base import Frontend
from router.upstreams.sse import stream_ended_cleanly

# pydantic's error types, in the words of an API reference.
_EXPECTED = {
    "string_type": "a string", "list_type": "an array", "int_type": "an integer",
    "float_type": "a number", "bool_type": "a boolean", "dict_type": "an object",
}
# pydantic names the member of a union each error is about; a param path leaves them out.
_UNION_TAGS = frozenset({"str", "int", "float", "bool", "none"})


class OpenAIFrontend(Frontend):
    def __init__(self, endpoint: Endpoint, path: str, shape: Any, summary: str) -> None:
        self.api = endpoint.value
        self.endpoint = endpoint
        self.paths = ("/v1" + path, path)
        self.shape = shape
        self.summary = summary
        self._check: Any = None  # the shape's validator, built on first use (not at import)

    def parse(self, body: dict[str, Any]) -> None:
        check = self._check
        if check is None:
            check = self._check = TypeAdapter(self.shape).validate_python
        try:
            check(body)
        except ValidationError as exc:
            raise invalid_request(exc) from None

    def ended(self, chunks: list[bytes]) -> bool:
        return stream_ended_cleanly(chunks, self.endpoint)

    def __repr__(self) -> str:
        return f"OpenAIFrontend({self.api})"


def invalid_request(exc: ValidationError) -> InvalidRequest:
    """The first bad field as an OpenAI 400: its path as `param`, what was expected."""
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    param = _param(errors[0]["loc"])
    kinds = [e["type"] for e in errors if _param(e["loc"]) == param]
    if "missing" in kinds:
        hint = " (use 'auto' to let laneway route)" if param == "model" else ""
        return InvalidRequest(f"'{param}' is required{hint}.", param=param,
                              code="missing_required_parameter")
    if "too_short" in kinds or "string_too_short" in kinds:
        return InvalidRequest(f"'{param}' must not be empty.", param=param, code="invalid_value")
    expected = " or ".join(dict.fromkeys(_EXPECTED[k] for k in kinds if k in _EXPECTED))
    return InvalidRequest(f"Invalid type for '{param}': expected {expected or 'another type'}.",
                          param=param, code="invalid_type")


def _param(loc: tuple[int | str, ...]) -> str:
    """('messages', 0, 'content', 'str') -> 'messages[0].content'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or "[" in part:
            break
        else:
            out += f".{part}" if out else part
    return out


CHAT = OpenAIFrontend(Endpoint.CHAT, "/chat/completions", shapes.ChatRequest,
                      "Chat completion")
COMPLETIONS = OpenAIFrontend(Endpoint.COMPLETIONS, "/completions", shapes.CompletionRequest,
                             "Completion / fill-in-the-middle")
RESPONSES = OpenAIFrontend(Endpoint.RESPONSES, "/responses", shapes.ResponsesRequest,
                           "Responses API")
EMBEDDINGS = OpenAIFrontend(Endpoint.EMBEDDINGS, "/embeddings", shapes.EmbeddingsRequest,
                            "Embeddings (passed through)")
