"""The bridges between Anthropic's Messages API and OpenAI's chat completions: a Messages
client on an OpenAI-compatible model, and a chat client on a model speaking Messages.

The request is translated before the call; the answer as it arrives (a whole body, or each
streamed chunk through a small state machine, router/translate/messages_stream.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from policies.lanes import Endpoint
from router.translate.messages_answer import chat_to_message, message_to_chat
from router.translate.messages_request import chat_to_messages, messages_to_chat
from router.translate.messages_stream import ChatToMessages, MessagesToChat
from router.upstreams.openai import Reply, StreamBroken

Machine = ChatToMessages | MessagesToChat


class MessagesOnChat:
    """A Messages client, an OpenAI-compatible model."""

    endpoint = Endpoint.CHAT

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        return messages_to_chat(body)

    def reply(self, reply: Reply, stream: bool, client_body: dict[str, Any]) -> Reply:
        return _translated(reply, ChatToMessages(str(client_body.get("model") or "")),
                           chat_to_message)


class ChatOnMessages:
    """A chat client, a model speaking the Messages API."""

    endpoint = Endpoint.MESSAGES

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        return chat_to_messages(body)

    def reply(self, reply: Reply, stream: bool, client_body: dict[str, Any]) -> Reply:
        options = client_body.get("stream_options")
        usage = isinstance(options, dict) and options.get("include_usage") is True
        return _translated(reply, MessagesToChat(str(client_body.get("model") or ""), usage),
                           message_to_chat)


def _translated(
    reply: Reply, machine: Machine, whole: Callable[[dict[str, Any]], dict[str, Any]]
) -> Reply:
    if reply.rest is None:
        try:
            answer = orjson.loads(reply.first)
        except orjson.JSONDecodeError:
            answer = None
        # Something that is not an answer passes as it is: the client sees what came.
        body = orjson.dumps(whole(answer)) if isinstance(answer, dict) else reply.first
        return Reply(reply.status, "application/json", body, None, reply.ttft_s, reply.close)
    return Reply(reply.status, "text/event-stream", machine.feed(reply.first),
                 _rest(reply.rest, machine), reply.ttft_s, reply.close)


async def _rest(rest: AsyncIterator[bytes], machine: Machine) -> AsyncIterator[bytes]:
    try:
        async for chunk in rest:
            out = machine.feed(chunk)
            if out:
                yield out
    except StreamBroken:
        raise
    finally:
        await rest.aclose()  # type: ignore[attr-defined]
