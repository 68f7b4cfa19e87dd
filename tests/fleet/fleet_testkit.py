"""Helpers shared by the fleet tests (imported by module name; tests dirs are not packages)."""

from __future__ import annotations

import aiohttp


async def sse_lines(resp: aiohttp.ClientResponse) -> list[str]:
    """Every non-empty line of an SSE body, read to its end."""
    text = (await resp.read()).decode()
    return [line for line in text.split("\n") if line]
