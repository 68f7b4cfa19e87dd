"""`experiments:` in the config: the contract's sample as written, and clear errors."""

import textwrap

import pytest
import yaml

from router.config import ConfigError, parse

MODELS = textwrap.dedent(
    """
    models:
      - {name: fast-coder, api_base: "http://127.0.0.1:9100/v1", tier: small, lanes: [completion]}
      - {name: mid-chat, api_base: "http://127.0.0.1:9100/v1", tier: medium, lanes: [qa]}
    """
)
# The contract's sample, verbatim.
SAMPLE = textwrap.dedent(
    """
    experiments:
      - name: completion-model
        lane: completion
        arms:
          - {name: small, model: fast-coder, weight: 1}   # an arm sets a model and/or policy overrides
          - {name: mid, model: mid-chat, weight: 1}
        min_shown: 200       # per arm, before any decision
        confidence: 0.95
        promote: true        # once one arm is significantly better, all traffic goes to it
    """  # noqa: E501
)


def test_the_contract_sample_is_accepted_as_written():
    cfg = parse(yaml.safe_load(MODELS + SAMPLE))
    (exp,) = cfg.raw.experiments
    assert exp.name == "completion-model" and [a.model for a in exp.arms] == ["fast-coder",
                                                                            "mid-chat"]
    assert exp.min_shown == 200 and exp.promote


@pytest.mark.parametrize(
    ("experiments", "message"),
    [
        ([{"name": "x", "arms": [{"name": "a", "model": "nope"}, {"name": "b"}]}],
         "experiments[0].arms[0].model: unknown model 'nope'"),
        ([{"name": "x", "arms": [{"name": "a"}, {"name": "b", "temperature": 1}]}],
         "experiments[0].arms[1].temperature: Extra inputs are not permitted"),
        ([{"name": "x", "arms": [{"name": "a"}, {"name": "b"}]},
          {"name": "x", "lane": "qa", "arms": [{"name": "a"}, {"name": "b"}]}],
         "duplicate experiment 'x'"),
        ([{"name": "x", "arms": [{"name": "a"}, {"name": "b"}]},
          {"name": "y", "arms": [{"name": "a"}, {"name": "b"}]}],
         "at most one experiment per lane"),
        ([{"name": "x", "arms": [{"name": "a"}, {"name": "b"}], "confidence": 2}],
         "experiments[0].confidence"),
    ],
)
def test_bad_experiments_name_their_path(experiments, message):
    data = yaml.safe_load(MODELS) | {"experiments": experiments}
    with pytest.raises(ConfigError) as err:
        parse(data)
    assert message in str(err.value)
