"""Everything built once from a config: the objects the chain's stages use, and the chain.

A reload builds a new Runtime and swaps it in; requests in flight keep the one they started
with, so nothing changes under their feet. Learned state (latency, breakers, affinity) is
carried over to the new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from cache.feedback import FeedbackStore, MemoryFeedback
from cache.redis_store import split_cluster_url
from cache.response_cache import DEFAULT_L1_BYTES, DisabledCache, ResponseCache, build_cache
from policies.acceptance import AcceptanceBoard
from policies.catalog import ModelSpec
from policies.choose import Chooser
from policies.experiments import Experiment
from policies.lane_memo import LaneMemo
from policies.policy import LANE_NAMES, Policy, load_policy
from policies.trim import TrimBudget
from router.config import Config
from router.http.auth import KeyRing
from router.limits.ratelimit import Limit, Limiter, build_limiter
from router.observe.metrics import Metrics
from router.stages.chain import Chain
from router.stages.feedback import FeedbackStage
from router.stages.feedback_core import FeedbackCore
from router.stages.supersede import Sessions
from router.upstreams import http1
from router.upstreams.kinds import UpstreamKind, build_kinds
from router.upstreams.openai import Timeouts


@dataclass(eq=False)
class Runtime:
    config: Config
    policy: Policy
    chooser: Chooser
    metrics: Metrics
    session: aiohttp.ClientSession
    pool: http1.Pool  # the lean client's keep-alive connections (plain-HTTP upstreams)
    upstreams: dict[str, UpstreamKind]  # one adapter per upstream kind the config uses
    keys: KeyRing
    largest: ModelSpec  # the yardstick for "saved against sending everything to the largest"
    limiter: Limiter = field(default_factory=lambda: Limiter(Limit(), {}))
    sessions: Sessions = field(default_factory=Sessions)  # in-flight completions per session
    cache: ResponseCache = field(default_factory=DisabledCache)  # L1, L2 (Redis), single-flight
    # Per lane, built once from the policy rather than per request.
    budgets: dict[str, TrimBudget] = field(default_factory=dict)
    # Per lane, and per (lane, model) where a model's `timeout_s` shortens the lane's.
    timeouts: dict[str | tuple[str, str], Timeouts] = field(default_factory=dict)
    # Per lane: what besides the client's body decides a trimmed body (part of cache keys).
    variants: dict[str, str] = field(default_factory=dict)
    lanes: LaneMemo = field(default_factory=LaneMemo)  # classify, remembered per body
    feedback: FeedbackStage | None = None  # ids, experiments, acceptance (feedback.py)
    chain: Chain = field(init=False)  # the request path, built from all of the above

    def __post_init__(self) -> None:
        self.chain = Chain(self)

    @classmethod
    def build(
        cls,
        config: Config,
        metrics: Metrics,
        session: aiohttp.ClientSession,
        previous: Runtime | None = None,
    ) -> Runtime:
        base = Path(config.source).parent if config.source.endswith((".yaml", ".yml")) else None
        policy = load_policy(config.raw.policy, base_dir=base)
        old = previous.chooser if previous is not None else None
        chooser = Chooser(
            config.models,
            policy,
            latency=old.latency if old else None,
            breakers=old.breakers if old else None,
            affinity=old.affinity if old else None,
            acceptance=old.acceptance if old else None,
        )
        # The lean client's keep-alive connections outlive a reload, like the session.
        pool = previous.pool if previous is not None else http1.Pool()
        upstreams = build_kinds(config.models, session, pool,
                                previous.upstreams if previous is not None else None)
        max_window = {
            lane: max((m.context_window for m in config.models if lane in m.lanes), default=0)
            for lane in LANE_NAMES
        }
        largest = max(config.models, key=lambda m: (m.tier, m.price_input + m.price_output))
        budgets: dict[str, TrimBudget] = {}
        timeouts: dict[str | tuple[str, str], Timeouts] = {}
        for lane in LANE_NAMES:
            lp = policy.lane(lane)
            budgets[lane] = TrimBudget(
                input_tokens=lp.input_tokens or max_window.get(lane, 0) or 1,
                prefix_share=lp.prefix_share,
                max_output_tokens=lp.max_output_tokens,
                tool_output_tokens=lp.tool_output_tokens,
                scope=lp.scope,
            )
            t = lp.timeouts
            timeouts[lane] = Timeouts(t.connect_s, t.ttft_s, t.idle_s, t.total_s)
            for m in config.models:
                if m.timeout_s is not None and m.timeout_s < t.total_s:
                    cap = m.timeout_s
                    timeouts[(lane, m.name)] = Timeouts(
                        min(t.connect_s, cap), min(t.ttft_s, cap), min(t.idle_s, cap), cap
                    )
        core = _feedback(config, metrics, chooser.acceptance, previous)
        feedback = FeedbackStage([Experiment(e) for e in config.raw.experiments], core,
                                 policy.name)
        return cls(
            config, policy, chooser, metrics, session, pool, upstreams,
            KeyRing(config),
            largest,
            build_limiter(config, previous.limiter if previous else None),
            previous.sessions if previous else Sessions(),
            _cache(config, metrics, previous),
            budgets, timeouts,
            {lane: f"{policy.name}|{budget!r}" for lane, budget in budgets.items()},
            feedback=feedback,
        )


def _feedback(config: Config, metrics: Metrics, board: AcceptanceBoard,
              previous: Runtime | None) -> FeedbackCore:
    """The feedback loop's state outlives a reload unless the Redis settings changed."""
    r = config.raw.redis
    if previous is not None and previous.feedback is not None \
            and previous.config.raw.redis == r:
        return previous.feedback.core
    store: FeedbackStore
    # A Redis Cluster keeps feedback in process for now (the script's keys share one hash
    # tag, but it has not been tested on a cluster).
    if r.url and not r.cluster and not split_cluster_url(r.url)[1]:
        from cache.feedback_redis import RedisFeedback

        store = RedisFeedback(r.url)
    else:
        store = MemoryFeedback()
    return FeedbackCore(store, metrics, board)


def _cache(config: Config, metrics: Metrics, previous: Runtime | None) -> ResponseCache:
    """The cache outlives a reload (its L1, flights in progress, Redis connection) unless
    the reload changed the Redis settings."""
    r = config.raw.redis
    if previous is not None and previous.config.raw.redis == r:
        return previous.cache
    return build_cache(
        r.url, r.cluster, r.timeout_ms, DEFAULT_L1_BYTES,
        on_event=metrics.cache_event, on_health=metrics.set_redis_up,
    )
