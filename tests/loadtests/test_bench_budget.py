"""`python -m loadtests.bench.run --budget`: laneway measured with a team budget on its key."""

from loadtests.bench.run import KEY, laneway_config
from router.config import parse
from router.http.auth import KeyRing


def test_the_budget_flag_puts_the_bench_key_in_a_team_with_a_budget():
    plain = parse(laneway_config("http://127.0.0.1:9", None), "<bench>")
    assert plain.teams == {}
    cfg = parse(laneway_config("http://127.0.0.1:9", "redis://127.0.0.1:1/0", budget=True),
                "<bench>")
    assert KeyRing(cfg).tenant(f"Bearer {KEY}") == "bench"
    assert cfg.teams["bench"].budget is not None
