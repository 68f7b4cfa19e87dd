"""Config file, profile lookup, the control API's log and stats, and `python -m fleet`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from fleet.__main__ import main as fleet_main
from fleet.profiles import ConfigError, load_settings, settings_from_mapping
from fleet.server import FleetServer, start

EXAMPLE = Path(__file__).resolve().parents[2] / "fleet" / "fleet.example.yaml"


def test_example_config_loads_with_documented_profiles() -> None:
    settings = load_settings(str(EXAMPLE), zero_latency=False)
    small = settings.profile_for("qwen3-coder-1.5b")
    assert (small.tier, small.ttft_ms, small.tokens_per_s) == ("small", 40, 300)
    assert settings.profile_for("qwen3-235b-a22b").price_output_per_mtok == 2.8
    unknown = settings.profile_for("anything-else")
    assert (unknown.name, unknown.ttft_ms, unknown.tokens_per_s) == ("anything-else", 20, 500)
    assert load_settings(str(EXAMPLE), zero_latency=True).zero_latency


def test_config_overrides_builtins_and_adds_models(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(
        "default: {ttft_ms: 5}\n"
        "models:\n"
        "  qwen3-14b: {ttft_ms: 100}\n"
        "  coder: {fim: starcoder, aliases: [coder-instruct]}\n"
        "faults:\n  coder: 'status=503'\n"
    )
    settings = load_settings(str(path), zero_latency=False)
    assert settings.profile_for("qwen3-14b").ttft_ms == 100
    assert settings.profile_for("qwen3-14b").tokens_per_s == 90  # untouched field
    assert settings.profile_for("coder-instruct").fim == "starcoder"
    assert settings.profile_for("coder").ttft_ms == 5  # new names start from `default`
    assert settings.faults["coder"].status == 503


@pytest.mark.parametrize(("raw", "where"), [
    ({"modles": {}}, "modles"),
    ({"models": {"x": {"ttft": 1}}}, "models.x.ttft"),
    ({"models": {"x": {"fim": "weird"}}}, "models.x.fim"),
    ({"models": {"x": {"price_per_mtok": {"in": 1}}}}, "models.x.price_per_mtok"),
    ({"faults": {"x": "explode"}}, "faults.x"),
])
def test_config_errors_name_the_key(raw: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError, match=f"^{where}"):
        settings_from_mapping(raw)


async def test_models_health_log_and_stats(fleet: FleetServer, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{fleet.url}/models") as resp:
        ids = [m["id"] for m in (await resp.json())["data"]]
    assert ids == ["qwen3-coder-1.5b", "qwen3-14b", "qwen3-235b-a22b"]
    async with http.get(f"{fleet.root}/healthz") as resp:
        assert resp.status == 200
    chat = {"model": "qwen3-14b", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"User-Agent": "Cline/3.0", "x-request-id": "abc"}
    await (await http.post(f"{fleet.url}/chat/completions", json=chat, headers=headers)).read()
    await (await http.post(f"{fleet.root}/chat/completions", json=chat)).read()
    await (await http.post(f"{fleet.url}/embeddings", json={"model": "e", "input": "x"})).read()
    log = (await (await http.get(f"{fleet.root}/fleet/requests?model=qwen3-14b")).json())
    assert log["count"] == 2
    entry = log["requests"][0]
    assert entry["id"] != log["requests"][1]["id"]
    assert entry["headers"]["user-agent"] == "Cline/3.0"
    assert entry["headers"]["x-request-id"] == "abc"
    assert entry["received_at"] <= entry["finished_at"]
    stats = await (await http.get(f"{fleet.root}/fleet/stats")).json()
    assert stats["by_model"] == {"qwen3-14b": 2, "e": 1}
    assert stats["by_path"] == {
        "/v1/chat/completions": 1, "/chat/completions": 1, "/v1/embeddings": 1,
    }
    assert stats["by_state"] == {"done": 3} and stats["inflight"] == 0


async def test_unknown_urls_are_json_errors(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    for method, path in [("GET", "/v1/nothing"), ("GET", "/v1/chat/completions")]:
        async with http.request(method, f"{fleet.root}{path}") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "unknown_url"


async def test_wait_returns_early_when_nothing_comes(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    log = (await (await http.get(f"{fleet.root}/fleet/requests?state=cancelled&wait=0.2")).json())
    assert log["count"] == 0
    assert 0.15 <= loop.time() - began < 1.0


async def test_python_dash_m_fleet_serves(http: aiohttp.ClientSession) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet", "--port", "0", "--zero-latency",
        "--config", str(EXAMPLE), stdout=asyncio.subprocess.PIPE,
        cwd=str(EXAMPLE.parents[1]),
    )
    try:
        assert proc.stdout is not None
        banner = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert banner.endswith("(zero-latency)\n"), banner
        url = banner.split()[3]  # "laneway fleet on http://127.0.0.1:PORT/v1 (...)"
        chat = {"model": "qwen3-235b-a22b", "messages": [{"role": "user", "content": "hi"}]}
        async with http.post(f"{url}/chat/completions", json=chat) as resp:
            assert resp.status == 200
            assert (await resp.json())["choices"][0]["message"]["content"]
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0  # SIGTERM is a clean stop


def test_cli_rejects_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: {x: {speed: 3}}\n")
    assert fleet_main(["--port", "0", "--config", str(bad)]) == 2  # before serving anything
    assert "models.x.speed: unknown key" in capsys.readouterr().err


async def test_log_is_bounded_in_entries_and_body_bytes(http: aiohttp.ClientSession) -> None:
    settings = settings_from_mapping({"zero_latency": True, "log_limit": 4, "log_body_bytes": 300})
    async with await start(settings) as fleet:
        for i in range(6):
            text = f"question {i} " + "x" * 60
            chat = {"model": "m", "messages": [{"role": "user", "content": text}]}
            await (await http.post(f"{fleet.url}/chat/completions", json=chat)).read()
        log = (await (await http.get(f"{fleet.root}/fleet/requests")).json())["requests"]
    assert [e["id"] for e in log] == [f"req_{i:06d}" for i in range(3, 7)]
    size = log[-1]["body_bytes"]
    assert 125 < size <= 150  # two bodies fit in 300 bytes, three do not
    assert [e["body"] is not None for e in log] == [False, False, True, True]
    assert log[0]["body_dropped"] is True
    assert log[-1]["body"]["messages"][0]["content"].startswith("question 5")
