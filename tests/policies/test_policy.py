from pathlib import Path

import pytest
import yaml

from policies.policy import DEFAULTS, POLICY_DIR, PolicyError, load_policy, parse_policy


def test_default_yaml_spells_out_the_contract_defaults():
    from_file = load_policy("default")
    from_code = parse_policy({}, name="default")
    assert from_file == from_code


def test_contract_defaults():
    p = load_policy("default")
    c, q, a = p.completion, p.qa, p.agentic
    assert (c.objective, c.ttft_target_ms, c.input_tokens, c.max_output_tokens) == (
        "cheapest",
        300,
        4096,
        256,
    )
    assert c.prefix_share == 0.75
    assert c.cache.enabled and c.cache.ttl_s == 600 and c.cache.max_temperature == 0.3
    assert c.cache.typeahead
    assert (q.objective, q.ttft_target_ms, q.input_tokens, q.max_output_tokens) == (
        "cheapest",
        2000,
        16384,
        None,
    )
    assert q.cache.ttl_s == 3600 and q.cache.max_temperature == 0.0 and not q.cache.typeahead
    assert (a.objective, a.ttft_target_ms, a.input_tokens) == ("best_quality", 8000, None)
    assert a.tool_output_tokens == 8192 and not a.cache.enabled and a.affinity
    assert c.timeouts.ttft_s < q.timeouts.ttft_s < a.timeouts.ttft_s
    assert p.lane("qa") is q


@pytest.mark.parametrize("name", ["default", "latency-first", "cost-saver"])
def test_shipped_policies_load(name: str):
    p = load_policy(name)
    assert p.name == name
    for lane in ("completion", "qa", "agentic"):
        assert p.lane(lane).ttft_target_ms > 0


def test_shipped_policies_differ_where_they_say():
    fast, cheap = load_policy("latency-first"), load_policy("cost-saver")
    assert fast.completion.objective == "fastest" and fast.completion.ttft_target_ms == 200
    assert cheap.agentic.objective == "cheapest" and cheap.completion.input_tokens == 2048
    # Partial sections merge with the defaults instead of replacing them.
    assert cheap.completion.cache.typeahead and cheap.completion.cache.ttl_s == 1800


def test_every_shipped_file_is_a_valid_mapping():
    for f in POLICY_DIR.glob("*.yaml"):
        assert isinstance(yaml.safe_load(f.read_text()), dict), f


def test_unknown_key_names_its_path():
    with pytest.raises(PolicyError) as e:
        parse_policy({"qa": {"cache": {"ttl": 5}}}, name="x", source="mine.yaml")
    assert "mine.yaml" in str(e.value) and "qa.cache.ttl" in str(e.value)


def test_bad_values_name_their_path():
    with pytest.raises(PolicyError) as e:
        parse_policy(
            {"completion": {"objective": "random", "probe_share": 2}, "agentic": 3}, name="x"
        )
    msg = str(e.value)
    assert "completion.objective" in msg and "completion.probe_share" in msg
    assert "agentic:" in msg


def test_timeouts_must_be_ordered():
    with pytest.raises(PolicyError, match=r"qa\.timeouts"):
        parse_policy({"qa": {"timeouts": {"ttft_s": 500}}}, name="x")


def test_unknown_lane_and_top_level_key():
    with pytest.raises(PolicyError, match="typeahead"):
        parse_policy({"typeahead": True}, name="x")
    with pytest.raises(KeyError):
        load_policy("default").lane("chat")


def test_load_by_path_relative_to_base_dir(tmp_path: Path):
    (tmp_path / "mine.yaml").write_text("completion: {ttft_target_ms: 150}\n")
    p = load_policy("./mine.yaml", base_dir=tmp_path)
    assert p.name == "mine" and p.completion.ttft_target_ms == 150
    assert p.qa == load_policy("default").qa
    assert load_policy(str(tmp_path / "mine.yaml")).completion.ttft_target_ms == 150


def test_empty_file_is_the_defaults(tmp_path: Path):
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    assert load_policy(str(tmp_path / "empty.yaml")).completion == load_policy("default").completion


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(PolicyError, match="latency-first"):
        load_policy("nope")


def test_unreadable_and_invalid_files(tmp_path: Path):
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(str(tmp_path / "missing.yaml"))
    (tmp_path / "bad.yaml").write_text("completion: [\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(str(tmp_path / "bad.yaml"))
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(PolicyError, match="mapping"):
        load_policy(str(tmp_path / "list.yaml"))


def test_defaults_are_not_mutated_by_parsing():
    before = repr(DEFAULTS)
    parse_policy({"completion": {"cache": {"ttl_s": 1}}}, name="x")
    assert repr(DEFAULTS) == before


def test_policies_are_immutable():
    p = load_policy("default")
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error type varies
        p.completion.ttft_target_ms = 1  # type: ignore[misc]
