"""What a worker holds, split by how long it lives.

- `Process`: as long as the worker, whatever its config: metrics, the HTTP session and
  the lean client's keep-alive pool, the in-flight completions per session, request ids.
- `Runtime`: one config's immutable snapshot: the config and policy, keys, the chooser,
  limits, the cache, the upstream adapters and the chain built from them.

A reload builds a new Runtime and swaps it in whole (one attribute write); requests in
flight keep the one they started with, so nothing changes under their feet. What traffic
taught (latency, breakers, affinity), the limiter's counters, the cache (unless its Redis
settings changed) and litellm (once imported) are carried over to the new one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp

from cache.feedback import FeedbackStore, MemoryFeedback
from cache.redis_layer import RedisLayer, split_cluster_url
from cache.response_cache import DEFAULT_L1_BYTES, ResponseCache, build_cache
from policies.acceptance import AcceptanceBoard
from policies.choose import Chooser
from policies.experiments import Experiment
from policies.policy import Policy, load_policy
from router.config import Config
from router.http.auth import KeyRing
from router.http.request_ids import RequestIds
from router.limits.ratelimit import Limiter, build_limiter
from router.limits.spend import Ledger
from router.observe.metrics import Metrics
from router.stages.chain import Chain
from router.stages.feedback import FeedbackStage
from router.stages.feedback_core import FeedbackCore
from router.stages.supersede import Sessions
from router.upstreams import http1
from router.upstreams.kinds import UpstreamKind, build_kinds


@dataclass(frozen=True, eq=False)
class Process:
    metrics: Metrics
    session: aiohttp.ClientSession  # pooled aiohttp (HTTPS upstreams)
    pool: http1.Pool  # the lean client's keep-alive connections (plain-HTTP upstreams)
    sessions: Sessions  # the newest in-flight completion per (tenant, session)
    ids: RequestIds


@dataclass(frozen=True, eq=False)
class Runtime:
    config: Config
    policy: Policy
    keys: KeyRing
    chooser: Chooser
    limiter: Limiter
    cache: ResponseCache  # L1, L2 (Redis), single-flight
    upstreams: dict[str, UpstreamKind]  # one adapter per upstream kind the config uses
    ledger: Ledger  # teams' spend and budgets
    chain: Chain  # the request path, built from all of the above
    process: Process
    # The one connection to Redis (cache/redis_layer.py) that the cache, the limiter and
    # anything else shared across replicas use; None without `redis.url`.
    redis: RedisLayer | None = None
    feedback: FeedbackStage | None = None  # ids, experiments, acceptance (feedback.py)

    @property
    def metrics(self) -> Metrics:
        return self.process.metrics

    @classmethod
    def build(
        cls,
        config: Config,
        metrics: Metrics,
        session: aiohttp.ClientSession,
        previous: Runtime | None = None,
    ) -> Runtime:
        process = previous.process if previous is not None else Process(
            metrics, session, http1.Pool(), Sessions(), RequestIds())
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
        upstreams = build_kinds(config.models, process.session, process.pool,
                                previous.upstreams if previous is not None else None,
                                config.raw.server.max_answer_bytes)
        redis = (previous.redis if previous is not None
                 and previous.config.raw.redis == config.raw.redis
                 else RedisLayer.from_config(config.raw.redis))
        limiter = build_limiter(config, previous.limiter if previous else None, redis)
        cache = _cache(config, process.metrics, previous, redis)
        ledger = Ledger(
            config.teams, process.metrics, config.raw.redis.url,
            config.raw.redis.timeout_ms / 1000, config.raw.server.budget_fail,
            previous.ledger if previous else None, config.raw.redis.cluster,
        )
        core = _feedback(config, process.metrics, chooser.acceptance, previous, redis)
        feedback = FeedbackStage([Experiment(e) for e in config.raw.experiments], core,
                                 policy.name)
        chain = Chain(config, policy, chooser, cache, upstreams, limiter, process.metrics, ledger,
                      feedback)
        return cls(config, policy, KeyRing(config), chooser, limiter, cache, upstreams, ledger,
                   chain, process, redis, feedback)


def _feedback(config: Config, metrics: Metrics, board: AcceptanceBoard,
              previous: Runtime | None, redis: RedisLayer | None) -> FeedbackCore:
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

        store = RedisFeedback(r.url, layer=redis)
    else:
        store = MemoryFeedback()
    return FeedbackCore(store, metrics, board)


def _cache(
    config: Config, metrics: Metrics, previous: Runtime | None, redis: RedisLayer | None
) -> ResponseCache:
    """The cache outlives a reload (its L1, flights in progress, Redis connection) unless
    the reload changed the Redis settings."""
    r = config.raw.redis
    if previous is not None and previous.config.raw.redis == r:
        return previous.cache
    return build_cache(
        r.url, r.cluster, r.timeout_ms, DEFAULT_L1_BYTES,
        on_event=metrics.cache_event, on_health=metrics.set_redis_up, layer=redis,
    )
