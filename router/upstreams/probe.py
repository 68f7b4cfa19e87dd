"""Active health probes for ejected models, beside the request path, never on it.

Without them an ejected model comes back only through a half-open trial at the end of its
cool-down, which doubles while it keeps failing: after an outage of a minute, traffic stayed
away for half a minute more. So once a second (jittered, so that workers and replicas do not
probe in step) each worker sends every model ejected for at least SETTLE_S one cheap request:
a one-token chat completion. An answer that is not a fault closes the model's breaker, and the
next request may use it; a fault changes nothing (the model stays out, its cool-down is not
extended). Faults are what the breaker counts: no answer in time, a 5xx, a 429. A 4xx is an
answer (a base model that takes no chat says 400): the server is back.

Only OpenAI-compatible models are probed: other providers keep the half-open trial.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable

import aiohttp

from policies.catalog import ModelSpec
from router.runtime import Runtime
from router.stages.record import sync_model_up

log = logging.getLogger("laneway")

INTERVAL_S = 1.0  # mean time between rounds; each round waits 0.5x to 1.5x of it
SETTLE_S = 1.0  # a model just ejected is left alone this long
TIMEOUT_S = 3.0
# Recognisable in an upstream's logs; one token, nothing cached or billed worth counting.
PROBE_PROMPT = "laneway health probe: answer with one token"


def probe_body(model: ModelSpec) -> dict[str, object]:
    return {"model": model.upstream_model, "max_tokens": 1, "stream": False,
            "messages": [{"role": "user", "content": PROBE_PROMPT}]}


async def probe(session: aiohttp.ClientSession, model: ModelSpec) -> bool:
    """Does the model answer a one-token request within TIMEOUT_S, and not with a fault?"""
    headers = {"content-type": "application/json", "x-laneway-probe": "1"}
    if model.api_key:
        headers["authorization"] = "Bearer " + model.api_key.reveal()
    try:
        async with session.post(
            model.api_base + "/chat/completions", json=probe_body(model), headers=headers,
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S), allow_redirects=False,
        ) as resp:
            await resp.read()
            return resp.status < 500 and resp.status != 429
    except (TimeoutError, aiohttp.ClientError):
        return False


async def _round(rt: Runtime) -> None:
    breakers = rt.chooser.breakers
    names = breakers.to_probe(time.monotonic(), SETTLE_S)
    models = [m for m in rt.config.models if m.name in names and m.openai_compatible]
    if not models:
        return
    results = await asyncio.gather(*(probe(rt.session, m) for m in models))
    for m, ok in zip(models, results, strict=True):
        if ok:
            breakers.success(m.name)
            sync_model_up(rt.metrics, rt.chooser, m.name)
            log.warning("model %s answered a health probe: back in service", m.name)


async def run_probes(runtime: Callable[[], Runtime | None],
                     rng: random.Random | None = None) -> None:
    """Probe forever (cancel the task to stop); `runtime` gives the current one, so a
    reload's new runtime (which carries the breakers over) is probed from then on."""
    rng = rng or random.Random()
    while True:
        await asyncio.sleep(INTERVAL_S * (0.5 + rng.random()))
        rt = runtime()
        if rt is None:
            continue
        try:
            await _round(rt)
        except Exception:  # a probe must never take the worker down
            log.exception("health probe round failed")


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
