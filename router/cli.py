"""`laneway serve | fleet | demo | explain | check-config`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from router.config import ConfigError, load


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    path = args.config or os.environ.get("LANEWAY_CONFIG")
    if not path:
        print("laneway serve: --config FILE (or LANEWAY_CONFIG) is required", file=sys.stderr)
        return 2
    try:
        cfg = load(path)  # fail here, once, rather than in every worker
    except ConfigError as exc:
        print(f"laneway serve: {exc}", file=sys.stderr)
        return 2
    os.environ["LANEWAY_CONFIG"] = str(Path(path).resolve())
    uvicorn.run(
        "router.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=int(cfg.raw.server.shutdown_grace_s),
    )
    return 0


def _check_config(args: argparse.Namespace) -> int:
    try:
        cfg = load(args.file)
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


def _demo(args: argparse.Namespace) -> int:
    from router.demo import main as demo_main

    return demo_main(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="laneway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the proxy")
    p.add_argument("--config", help="YAML config (default: $LANEWAY_CONFIG)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=_serve)

    p = sub.add_parser("check-config", help="validate a config without serving")
    p.add_argument("file")
    p.set_defaults(func=_check_config)

    p = sub.add_parser("fleet", help="run the simulated model fleet")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.add_argument("--config", help="fleet YAML (profiles, faults)")
    p.add_argument("--zero-latency", action="store_true", help="answer at once (benchmarks)")
    p.set_defaults(func=_fleet)

    p = sub.add_parser("demo", help="route a realistic traffic mix on the simulated fleet")
    p.add_argument("--requests", type=int, default=0, help="0: the default mix size")
    p.set_defaults(func=_demo)

    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
