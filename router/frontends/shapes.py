"""The request shapes the OpenAI front ends accept: what laneway reads of a body, typed.

One source for two things: each front end validates every request against its shape
(pydantic-core, strict: JSON `true` is not a number, "9" is not an integer), and the app's
OpenAPI document is generated from the same shapes, so the two cannot drift. Only the
fields laneway reads are declared; every other field passes to the model as the client
sent it (`extra="allow"`), since the upstream is the judge of those.
"""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from typing_extensions import TypedDict

_OPEN = ConfigDict(extra="allow")

Number = StrictFloat  # strict: an integer is a number too, `true` is not
Count = StrictInt
Model = Annotated[StrictStr, Field(min_length=1,
                                   description="'auto' or a configured model (or alias)")]
TextOrList = StrictStr | list[Any]


class Message(TypedDict):
    __pydantic_config__ = _OPEN  # type: ignore[misc]
    role: StrictStr
    content: NotRequired[StrictStr | list[Any] | None]


class _Sampling(TypedDict):
    """The fields every OpenAI request may carry that laneway reads (routing, cache keys,
    the output ceiling, the stream)."""

    __pydantic_config__ = _OPEN  # type: ignore[misc]
    model: Model
    stream: NotRequired[StrictBool | None]
    stream_options: NotRequired[dict[str, Any] | None]
    temperature: NotRequired[Number | None]
    top_p: NotRequired[Number | None]
    presence_penalty: NotRequired[Number | None]
    frequency_penalty: NotRequired[Number | None]
    max_tokens: NotRequired[Count | None]
    max_completion_tokens: NotRequired[Count | None]
    max_output_tokens: NotRequired[Count | None]
    n: NotRequired[Count | None]
    tools: NotRequired[list[Any] | None]


class ChatRequest(_Sampling):
    messages: Annotated[list[Message], Field(min_length=1)]


class CompletionRequest(_Sampling):
    prompt: NotRequired[TextOrList]
    suffix: NotRequired[StrictStr | None]


class ResponsesRequest(_Sampling):
    input: NotRequired[TextOrList]
    instructions: NotRequired[StrictStr | None]


class EmbeddingsRequest(_Sampling):
    input: NotRequired[TextOrList]


class ExplainRequest(BaseModel):
    model_config = _OPEN
    path: str = Field(default="/v1/chat/completions", description="the route the body is for")
    body: dict[str, Any] = Field(description="the request body, as the client would send it")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """Every error laneway answers on the OpenAI routes."""

    error: ErrorDetail
