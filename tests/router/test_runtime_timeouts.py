import aiohttp

from router.config import parse
from router.observe.metrics import Metrics
from router.runtime import Runtime


async def test_a_models_timeout_shortens_its_lane_timeouts_only():
    cfg = parse({"models": [
        {"name": "slowpoke", "api_base": "http://127.0.0.1:9/v1", "timeout_s": 2},
        {"name": "other", "api_base": "http://127.0.0.1:9/v1"},
        {"name": "roomy", "api_base": "http://127.0.0.1:9/v1", "timeout_s": 100000},
    ]})
    async with aiohttp.ClientSession() as session:
        rt = Runtime.build(cfg, Metrics(), session)
        lane = rt.timeouts["agentic"]
        capped = rt.chain.upstream.timeouts_for("agentic", cfg.by_name["slowpoke"])
        assert capped.total_s == 2 and capped.ttft_s <= 2 and capped.idle_s <= 2
        assert lane.total_s > 2
        assert rt.chain.upstream.timeouts_for("agentic", cfg.by_name["other"]) == lane
        # A cap above the lane's own limits changes nothing.
        assert rt.chain.upstream.timeouts_for("agentic", cfg.by_name["roomy"]) == lane
