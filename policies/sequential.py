"""Comparing acceptance rates while looking at them all the time: an always-valid test.

An experiment's counts are read after every event, and a dashboard refreshes every few
seconds. A fixed-sample test (a z-test at 95%) checked that often declares a winner in an
A/A experiment far more than 5% of the time. The rule here stays valid however often it
is checked: the mixture sequential probability ratio test (mSPRT) of Johari, Koomen,
Pekelis and Walsh ("Peeking at A/B tests", KDD 2017; "Always valid inference: continuous
monitoring of A/B tests", Operations Research 2022), whose confidence interval is the
normal-mixture confidence sequence of Howard, Ramdas, McAuliffe and Sekhon
("Time-uniform, nonparametric, nonasymptotic confidence sequences", Annals of Statistics
2021, eq. (14) with a Gaussian mixing distribution).

For the difference d = p_b - p_a of two acceptance rates, with V the variance of the
estimate (p(1-p)/n per arm) and tau^2 the mixing variance (the size of effect one expects),
the interval

    d_hat +- sqrt( V (V + tau^2) / tau^2 * ( log((V + tau^2) / V) + 2 log(1/alpha) ) )

covers the true d at every moment at once with probability >= 1 - alpha. A difference is
declared only when the whole interval is on one side of the margin. Variances use
add-one-per-outcome estimates (Agresti-Caffo), so an arm with no acceptances yet does not
look certain. Closed forms only: no scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Mixing variance: effects of about +-10 points are the ones worth detecting quickly; the
# interval is valid for any tau, tau only moves where it is tightest.
TAU2 = 0.01


@dataclass(frozen=True, slots=True)
class Rate:
    """Successes out of trials (may be fractional: decayed counts)."""

    accepted: float
    shown: float

    @property
    def mean(self) -> float:
        return self.accepted / self.shown if self.shown > 0 else 0.0

    def smoothed(self) -> tuple[float, float]:
        """(Agresti-Caffo rate, its variance): one extra success and failure."""
        n = self.shown + 2.0
        p = (self.accepted + 1.0) / n
        return p, p * (1.0 - p) / n


def _radius(v: float, alpha: float, tau2: float = TAU2) -> float:
    return math.sqrt(v * (v + tau2) / tau2 * (math.log((v + tau2) / v) + 2.0 * math.log(1 / alpha)))


def difference(a: Rate, b: Rate, alpha: float) -> tuple[float, float]:
    """Always-valid (1 - alpha) interval for rate(b) - rate(a)."""
    pa, va = a.smoothed()
    pb, vb = b.smoothed()
    r = _radius(va + vb, alpha)
    d = pb - pa
    return d - r, d + r


def interval(rate: Rate, alpha: float) -> tuple[float, float]:
    """Always-valid (1 - alpha) interval for one rate, clipped to [0, 1]."""
    p, v = rate.smoothed()
    r = _radius(v, alpha)
    return max(0.0, p - r), min(1.0, p + r)


def better_by(a: Rate, b: Rate, margin: float, confidence: float) -> bool:
    """Is b's rate higher than a's by more than `margin`, at `confidence`, checked any time?"""
    low, _ = difference(a, b, 1.0 - confidence)
    return low > margin
