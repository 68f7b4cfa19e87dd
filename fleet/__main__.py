"""`python -m fleet --port P [--host H] [--config FILE] [--zero-latency]`."""

from __future__ import annotations

import argparse
import sys

from fleet.profiles import ConfigError
from fleet.server import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fleet", description="laneway's simulated OpenAI-compatible model fleet"
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9100, help="port to listen on (default: 9100)")
    parser.add_argument("--config", help="YAML profiles and faults; see fleet.example.yaml")
    parser.add_argument(
        "--zero-latency", action="store_true", help="no simulated delays (benchmarks)"
    )
    args = parser.parse_args(argv)
    try:
        run(args.host, args.port, config_path=args.config, zero_latency=args.zero_latency)
    except (ConfigError, OSError) as exc:
        print(f"fleet: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
