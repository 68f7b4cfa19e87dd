"""LiteLLM's proxy as a competitor: its own virtualenv (created on first run), its config.

The venv lives in `.bench/litellm-venv` (the folder ignores itself), apart from the project's
own, since `litellm[proxy]` pins its own FastAPI/uvicorn/pydantic versions.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

VERSION = "1.80.0"
ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / ".bench"
VENV = BENCH_DIR / "litellm-venv"
STAMP = VENV / f".installed-{VERSION}"


def ensure_venv(log: Path) -> tuple[Path | None, str]:
    """The `litellm` executable, installing it first if needed; (None, why) when that fails."""
    exe = VENV / "bin" / "litellm"
    if STAMP.exists() and exe.exists():
        return exe, f"litellm[proxy]=={VERSION} (cached venv)"
    BENCH_DIR.mkdir(exist_ok=True)
    (BENCH_DIR / ".gitignore").write_text("*\n")
    started = time.monotonic()
    with open(log, "ab") as out:
        steps = [
            [sys.executable, "-m", "venv", str(VENV)],
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--upgrade", "pip"],
            [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q",
             f"litellm[proxy]=={VERSION}"],
        ]
        for step in steps:
            try:
                done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=900)
            except subprocess.TimeoutExpired:
                return None, f"install timed out: {' '.join(step[-2:])}"
            if done.returncode != 0:
                return None, f"install failed ({' '.join(step[-2:])}); see {log}"
    if not exe.exists():
        return None, "install finished but bin/litellm is missing"
    STAMP.touch()
    return exe, f"litellm[proxy]=={VERSION} (installed in {time.monotonic() - started:.0f} s)"


def write_config(path: Path, fleet_base: str, model_names: list[str]) -> None:
    """Every model on the same fake upstream, as plain OpenAI-compatible deployments."""
    config = {
        "model_list": [
            {
                "model_name": name,
                "litellm_params": {
                    "model": f"openai/{name}",
                    "api_base": fleet_base,
                    "api_key": "sk-unused",
                },
            }
            for name in model_names
        ],
        "litellm_settings": {"drop_params": True, "telemetry": False},
        "general_settings": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))


# As for laneway and the bare pass-through: no access log line per request.
_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"err": {"class": "logging.StreamHandler", "formatter": "plain",
                         "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["err"], "level": "WARNING", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def command(exe: Path, config: Path, port: int) -> list[str]:
    log_config = config.with_name("litellm-logging.json")
    log_config.write_text(json.dumps(_LOGGING))
    return [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
            "--num_workers", "1", "--log_config", str(log_config)]


# No network at start-up (the cost map ships with the package), no telemetry, quiet logs.
ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_ADMIN_UI": "True",
}
