"""Opt-in check with the real Claude Code CLI (`make clients`; needs node and npm).

Installs @anthropic-ai/claude-code into a temporary directory, starts the fleet and laneway
(Claude's model names aliased to `auto`), and runs one print-mode task (`claude -p`) to
completion with an isolated HOME and telemetry off. A small recorder between the CLI and
laneway writes down what the CLI sent (method, path and query, header names, body keys,
model, stream) and how laneway routed it (lane, model, status); the summary is printed
and written to `claude-code-requests.json` in the working directory.

    python tests/clients/claude_code.py [--keep] [--version X.Y.Z] [--native]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from procs import fleet_models, free_port, start_fleet, start_laneway

TASK = "List the files in this directory, then say in one sentence what this project is."
# Header names only: values may carry keys. These are worth their value in the summary.
_SHOWN = ("anthropic-version", "anthropic-beta", "user-agent", "x-app")


async def _recorder(upstream: str, port: int, seen: list[dict[str, Any]]) -> web.AppRunner:
    session = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        entry: dict[str, Any] = {
            "method": request.method, "path": request.path, "query": request.query_string,
            "headers": sorted(request.headers.keys(), key=str.lower),
            "shown": {k: request.headers[k] for k in _SHOWN if k in request.headers},
        }
        if isinstance(body, dict):
            entry |= {"keys": sorted(body), "model": body.get("model"),
                      "stream": body.get("stream"), "max_tokens": body.get("max_tokens"),
                      "tools": len(body.get("tools") or ()),
                      "thinking": body.get("thinking"),
                      "roles": [m.get("role") for m in body.get("messages") or ()
                                if isinstance(m, dict)],
                      "top_level": {k: v for k, v in body.items()
                                    if k not in ("messages", "system", "tools")}}
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding")}
        async with session.request(request.method, upstream + request.path_qs, data=raw,
                                   headers=headers) as up:
            entry |= {"status": up.status, "lane": up.headers.get("x-laneway-lane"),
                      "routed_to": up.headers.get("x-laneway-model")}
            seen.append(entry)
            resp = web.StreamResponse(status=up.status, headers={
                k: v for k, v in up.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection")})
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", forward)
    app.on_cleanup.append(lambda _: session.close())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _install(where: Path, version: str | None) -> Path:
    spec = "@anthropic-ai/claude-code" + (f"@{version}" if version else "")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(where), spec],
                   check=True, stdout=subprocess.DEVNULL)
    return where / "node_modules" / ".bin" / "claude"


async def _run(
    claude: Path, base_url: str, home: Path, work: Path
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(home), "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_AUTH_TOKEN": "sk-laneway-claude-code", "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
        "CI": "1",
    }
    return await asyncio.to_thread(
        subprocess.run, [str(claude), "-p", TASK, "--output-format", "json"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300)


async def main(keep: bool, version: str | None, native: bool) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="laneway-claude-code-"))
    try:
        claude = Path(os.environ["CLAUDE_BIN"]) if os.environ.get("CLAUDE_BIN") else (
            _install(tmp / "npm", version))
        (home := tmp / "home").mkdir()
        (work := tmp / "work").mkdir()
        (work / "README.md").write_text("# demo\nA tiny demo project for laneway.\n")
        (work / "main.py").write_text("print('hello')\n")
        with start_fleet(tmp) as fleet:
            models = [*fleet_models(fleet.url), {
                "name": "claude-fleet", "api_base": fleet.url + "/v1", "provider": "anthropic",
                "tier": "large", "lanes": ["qa", "agentic"], "context_window": 200000,
                "price_per_mtok": {"input": 3.0, "output": 15.0, "cached_input": 0.3}}]
            # auto: the lanes decide (the main loop lands on an OpenAI-compatible model,
            # translated); --native: every Claude name goes to the Messages model as is.
            target = "claude-fleet" if native else "auto"
            config = {"server": {"api_keys": ["sk-laneway-claude-code"]}, "models": models,
                      "aliases": {"claude-*": target}}
            with start_laneway(tmp, config) as laneway:
                seen: list[dict[str, Any]] = []
                port = free_port()
                runner = await _recorder(laneway.url, port, seen)
                try:
                    done = await _run(claude, f"http://127.0.0.1:{port}", home, work)
                finally:
                    await runner.cleanup()
        version_out = subprocess.run([str(claude), "--version"], capture_output=True,
                                     text=True, env={"PATH": os.environ.get("PATH", ""),
                                                     "HOME": str(home)}).stdout.strip()
        report = {"claude_code": version_out, "exit": done.returncode,
                  "stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:], "requests": seen}
        Path("claude-code-requests.json").write_text(json.dumps(report, indent=2))
        for e in seen:
            print(f"{e['method']} {e['path']}{'?' + e['query'] if e['query'] else ''} -> "
                  f"{e['status']} lane={e.get('lane')} model={e.get('model')} "
                  f"routed_to={e.get('routed_to')} stream={e.get('stream')} "
                  f"tools={e.get('tools')} max_tokens={e.get('max_tokens')}")
        print(f"claude {version_out}: exit {done.returncode}")
        print(done.stdout[-1000:])
        ok = done.returncode == 0 and any(e["path"].endswith("/messages") and e["status"] == 200
                                          for e in seen)
        return 0 if ok else 1
    finally:
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--version", help="the CLI version to install (default: latest)")
    parser.add_argument("--native", action="store_true",
                        help="alias every Claude model name to the fleet's Messages model")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.keep, args.version, args.native)))
