"""Calls across API formats: a Messages request to an OpenAI-compatible model, and a chat
request to a model speaking the Messages API. The request is translated before the call;
the answer as it arrives (a whole body, or each streamed chunk through a state machine)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import orjson

from policies.catalog import ModelSpec
from policies.lanes import Endpoint
from router.translate.messages_answer import chat_to_message, message_to_chat
from router.translate.messages_request import chat_to_messages, messages_to_chat
from router.translate.messages_stream import ChatToMessages, MessagesToChat
from router.upstreams.openai import Reply, Timeouts, UpstreamFailure

if TYPE_CHECKING:
    from router.upstreams.anthropic import AnthropicUpstream
    from router.upstreams.openai import OpenAIUpstream

Machine = ChatToMessages | MessagesToChat


async def messages_via_chat(
    upstream: OpenAIUpstream, model: ModelSpec, body: dict[str, Any], stream: bool,
    timeouts: Timeouts, started: float,
) -> Reply:
    url, how = upstream._target(model, Endpoint.CHAT)
    reply = await upstream.exchange(model, url, how, messages_to_chat(body), stream, timeouts,
                                    started)
    return _translated(model, reply, ChatToMessages(model.upstream_model), chat_to_message)


async def chat_via_messages(
    upstream: AnthropicUpstream, model: ModelSpec, body: dict[str, Any], stream: bool,
    timeouts: Timeouts, started: float,
) -> Reply:
    url, how = upstream.messages_target(model, None, None)
    reply = await upstream.exchange(model, url, how, chat_to_messages(body), stream, timeouts,
                                    started)
    options = body.get("stream_options")
    usage = isinstance(options, dict) and options.get("include_usage") is True
    return _translated(model, reply, MessagesToChat(model.upstream_model, usage), message_to_chat)


def _translated(
    model: ModelSpec, reply: Reply, machine: Machine,
    whole: Callable[[dict[str, Any]], dict[str, Any]],
) -> Reply:
    if reply.rest is None:
        try:
            answer = orjson.loads(reply.first)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise UpstreamFailure(model.name, "bad_answer",
                                  f"Model '{model.name}' answered with something not JSON.")
        return Reply(reply.status, "application/json", orjson.dumps(whole(answer)), None,
                     reply.ttft_s, reply.close)
    assert reply.rest is not None
    return Reply(reply.status, "text/event-stream", machine.feed(reply.first),
                 _rest(reply.rest, machine), reply.ttft_s, reply.close)


async def _rest(rest: AsyncIterator[bytes], machine: Machine) -> AsyncIterator[bytes]:
    try:
        async for chunk in rest:
            out = machine.feed(chunk)
            if out:
                yield out
    finally:
        await rest.aclose()  # type: ignore[attr-defined]
