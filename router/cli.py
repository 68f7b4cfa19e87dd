"""laneway: a model-routing proxy for AI coding traffic (lanes, budgets, caches)."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from policies.policy import Policy, PolicyError, load_policy
from router.config import Config, ConfigError, load


def _config_path(args: argparse.Namespace, command: str) -> str | None:
    """--config, else LANEWAY_CONFIG; None (said on stderr) when neither is given."""
    path: str | None = args.config or os.environ.get("LANEWAY_CONFIG")
    if not path:
        print(f"laneway {command}: --config FILE (or LANEWAY_CONFIG) is required", file=sys.stderr)
        return None
    return path


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from router.http.server import OneWriteHttpToolsProtocol

    path = _config_path(args, "serve")
    if path is None:
        return 2
    try:
        cfg, _ = _load_all(path)  # fail here, once, rather than in every worker
    except ConfigError as exc:
        print(f"laneway serve: {exc}", file=sys.stderr)
        return 2
    os.environ["LANEWAY_CONFIG"] = str(Path(path).resolve())
    os.environ["LANEWAY_ADDRESS"] = f"{args.host}:{args.port}"  # for the ready line
    if not args.access_log:
        os.environ["LANEWAY_ACCESS_LOG"] = "0"
    with _metrics_dir(args.workers):
        uvicorn.run(
            "router.http.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            loop="uvloop",
            http=OneWriteHttpToolsProtocol,  # httptools, one write per response
            access_log=False,  # laneway writes its own: one JSON line per request
            # Nothing in laneway reads the client's address, so X-Forwarded-* need not be
            # parsed into every request (one middleware layer less); no `server:` banner.
            proxy_headers=False,
            server_header=False,
            log_level=args.log_level,
            timeout_graceful_shutdown=int(cfg.raw.server.shutdown_grace_s),
        )
    return 0


@contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """With several workers, each keeps its metrics in files under a fresh directory that
    any worker's /metrics adds up. It must be in the environment before the workers import
    prometheus_client, and is removed at exit so that no stale count survives a restart.
    A PROMETHEUS_MULTIPROC_DIR already set (e.g. a tmpfs) is where the directory goes."""
    parent = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers <= 1 and parent is None:
        yield  # one process: plain in-memory metrics, no file writes per request
        return
    run = tempfile.mkdtemp(prefix="laneway-metrics-", dir=parent)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = run
    try:
        yield
    finally:
        shutil.rmtree(run, ignore_errors=True)
        if parent is None:
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = parent


def _load_all(path: str) -> tuple[Config, Policy]:
    """The config and the policy it names: both are checked before anything serves."""
    cfg = load(path)
    base = Path(path).resolve().parent
    try:
        policy = load_policy(cfg.raw.policy, base_dir=base)
    except PolicyError as exc:
        raise ConfigError(f"{path}: policy: {exc}") from None
    return cfg, policy


def _check_config(args: argparse.Namespace) -> int:
    try:
        cfg, _ = _load_all(args.file)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    for w in cfg.warnings:
        print(f"warning: {w}")
    print(f"{args.file}: ok ({len(cfg.models)} models, policy {cfg.raw.policy!r})")
    return 0


def _fleet(args: argparse.Namespace) -> int:
    from fleet.server import run

    run(args.host, args.port, args.config, zero_latency=args.zero_latency)
    return 0


def _explain(args: argparse.Namespace) -> int:
    """Explain a request offline: the same planning code, no server, no upstream call."""
    import asyncio

    import orjson

    from router.observe.metrics import Metrics
    from router.runtime import Runtime
    from router.stages.explain import explain

    path = _config_path(args, "explain")
    if path is None:
        return 2
    try:
        cfg, _ = _load_all(path)
        payload = orjson.loads(Path(args.file).read_bytes())
    except (ConfigError, OSError, orjson.JSONDecodeError) as exc:
        print(f"laneway explain: {exc}", file=sys.stderr)
        return 2
    if isinstance(payload, dict) and "body" not in payload:
        payload = {"path": args.path, "body": payload}  # a bare request body

    async def run() -> dict[str, object]:
        import aiohttp

        async with aiohttp.ClientSession() as session:  # never used: explain calls nothing
            rt = Runtime.build(cfg, Metrics(), session)
            return explain(rt, payload, {}, "cli")

    from router.errors import LanewayError

    try:
        result = asyncio.run(run())
    except LanewayError as err:
        print(orjson.dumps(err.payload(), option=orjson.OPT_INDENT_2).decode(), file=sys.stderr)
        return 1
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    return 0


def _up(args: argparse.Namespace) -> int:
    from demo.up import main as up_main

    return up_main(args)


def _demo(args: argparse.Namespace) -> int:
    from demo import main as demo_main

    return demo_main(args)


class _Help(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none or says it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (action.option_strings and default not in (None, False, argparse.SUPPRESS)
                and "default" not in text):
            text += f" (default: {default})"
        return text


EPILOG = """examples:
  laneway up                                       the simulated fleet and laneway on
                                                   http://127.0.0.1:8080/v1 (make run)
  laneway serve --config laneway.example.yaml      serve a config on 127.0.0.1:8080
  laneway check-config laneway.example.yaml
  laneway explain request.json --config laneway.example.yaml
  laneway demo --quick                             a short traffic mix and its report
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="laneway", description=__doc__, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, title="commands",
                                metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=text, description=text, formatter_class=_Help)

    p = command("up", "start the simulated fleet and laneway on the example config, print "
                      "the base URL and each tool's settings, stay up until Ctrl-C")
    from demo.up import add_arguments as up_arguments

    up_arguments(p)
    p.set_defaults(func=_up)

    p = command("serve", "run the proxy on a config (your own upstreams)")
    p.add_argument("--config", help="YAML config (default: $LANEWAY_CONFIG)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes (each with its own event loop; metrics are summed)")
    p.add_argument("--log-level", default="warning",
                   choices=["critical", "error", "warning", "info", "debug"],
                   help="level of the server's own log (not the per-request lines)")
    p.add_argument("--no-access-log", dest="access_log", action="store_false",
                   help="no JSON line per request on stdout (default: one line per request)")
    p.set_defaults(func=_serve)

    p = command("check-config", "validate a config and its policy without serving")
    p.add_argument("file", help="the YAML config")
    p.set_defaults(func=_check_config)

    p = command("fleet", "run the simulated model fleet (OpenAI-compatible, with fault "
                         "injection) for trying laneway without real models")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=9100, help="port to listen on")
    p.add_argument("--config", help="fleet YAML: profiles, faults (see "
                                    "fleet/fleet.example.yaml; default: the built-in profiles)")
    p.add_argument("--zero-latency", action="store_true", help="answer at once (benchmarks)")
    p.set_defaults(func=_fleet)

    p = command("explain", "show the routing decision for a request body, offline")
    p.add_argument("file", help="a request body (JSON), or {\"path\": ..., \"body\": ...}")
    p.add_argument("--config", help="YAML config (default: $LANEWAY_CONFIG)")
    p.add_argument("--path", default="/v1/chat/completions", help="route of a bare body")
    p.set_defaults(func=_explain)

    p = command("demo", "replay a realistic traffic mix through laneway on the simulated "
                        "fleet and report what it did (cost, latency, cache)")
    from demo import add_arguments as demo_arguments  # the demo owns its options

    demo_arguments(p)
    p.set_defaults(func=_demo)

    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
