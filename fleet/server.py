"""The fleet's aiohttp application and the ways to run it (blocking, or inside a test loop)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from fleet import control, shapes
from fleet.embeddings import embeddings
from fleet.errors import error_response, json_response
from fleet.handlers import Api, generation_handler
from fleet.inputs import parse_chat, parse_completion, parse_responses
from fleet.messages import (
    anthropic_error,
    anthropic_error_event,
    messages_body,
    messages_stream,
    parse_messages,
)
from fleet.profiles import FleetSettings, load_settings
from fleet.state import STATE, FleetState


async def _models(request: web.Request) -> web.Response:
    settings = request.app[STATE].settings
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "laneway-fleet"}
        for name in settings.profiles
    ]
    return json_response({"object": "list", "data": data})


async def _healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def _unknown(request: web.Request) -> web.Response:
    # OpenAI answers unknown URLs with a JSON error too; aiohttp's default is plain text.
    return error_response(
        404, f"Unknown request URL: {request.method} {request.path}.", code="unknown_url"
    )


def build_app(settings: FleetSettings) -> web.Application:
    # No client_max_size surprise: agentic requests carry long contexts (64 MiB is plenty).
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE] = FleetState(settings)
    chat = generation_handler(Api(parse_chat, shapes.chat_stream, shapes.chat_body, "chatcmpl-"))
    legacy = generation_handler(
        Api(parse_completion, shapes.completion_stream, shapes.completion_body, "cmpl-")
    )
    responses = generation_handler(
        Api(parse_responses, shapes.responses_stream, shapes.responses_body, "resp_")
    )
    messages = generation_handler(Api(parse_messages, messages_stream, messages_body, "msg_",
                                      anthropic_error, anthropic_error_event))
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/messages", messages)
        app.router.add_post(f"{prefix}/chat/completions", chat)
        app.router.add_post(f"{prefix}/completions", legacy)
        app.router.add_post(f"{prefix}/responses", responses)
        app.router.add_post(f"{prefix}/embeddings", embeddings)
        app.router.add_get(f"{prefix}/models", _models)
    app.router.add_get("/healthz", _healthz)
    control.add_routes(app)
    app.router.add_route("*", "/{tail:.*}", _unknown)  # last: only what nothing else took
    return app


@dataclass
class FleetServer:
    """A fleet running inside the caller's event loop (tests, demo, benchmarks)."""

    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        """Base URL including /v1, as OpenAI clients expect."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def state(self) -> FleetState:
        return self.runner.app[STATE]

    async def close(self) -> None:
        await self.runner.cleanup()

    async def __aenter__(self) -> FleetServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start(
    settings: FleetSettings | None = None, host: str = "127.0.0.1", port: int = 0
) -> FleetServer:
    """Start a fleet on host:port (0 = a free port) in the running loop.

    `async with await start(...) as fleet:` stops it again.
    """
    app = build_app(settings or FleetSettings())
    # handler_cancellation: a client that goes away cancels its handler at once, which is
    # how the fleet records `cancelled` requests promptly. A short shutdown timeout: hung
    # requests (the `hang` fault) must not hold up a test's teardown.
    runner = web.AppRunner(
        app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
    )
    await runner.setup()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # Load tests open many connections at once; 128 would drop SYNs.
        await web.SockSite(runner, sock, backlog=4096).start()
    except BaseException:
        sock.close()
        await runner.cleanup()
        raise
    return FleetServer(runner, host, sock.getsockname()[1])


async def _serve_forever(settings: FleetSettings, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with await start(settings, host, port) as fleet:
        mode = "zero-latency" if settings.zero_latency else "simulated latency"
        # The real port (the caller may have asked for 0), for scripts waiting on this line.
        print(f"laneway fleet on http://{host}:{fleet.port}/v1 ({mode})", flush=True)
        await stop.wait()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(host: str, port: int, config_path: str | None = None, zero_latency: bool = False) -> None:
    """Serve until SIGINT/SIGTERM (blocking). Uses uvloop when it is installed."""
    settings = load_settings(config_path, zero_latency)
    # Ctrl-C is the normal way to stop it: no traceback for that.
    with asyncio.Runner(loop_factory=_loop_factory()) as runner, contextlib.suppress(
        KeyboardInterrupt
    ):
        runner.run(_serve_forever(settings, host, port))
