"""A route's error and exploration budgets for the learned semantic cache (per tenant, per process).

Two buckets refilled on every request the cache looks at (exact hits, semantic hits, explorations
and misses alike):

- errors: `max_error_rate` per lookup; each semantic hit spends its risk (the chance it is wrong).
  The expected share of wrong answers served therefore stays at or under `max_error_rate`.
- explorations: `max_exploration_rate` per lookup; each exploration spends one.

Both start empty and hold at most HORIZON lookups' worth, so a quiet hour does not pay for a burst
of risky hits. Each service process keeps its own: each one's share is bounded, so their sum is.
"""

from __future__ import annotations

# The lookups' worth a bucket may hold.
HORIZON = 1000


class RouteBudget:
    """The error and exploration buckets of one tenant on one route, in this process."""

    __slots__ = ("_max_error_rate", "_max_exploration_rate", "errors", "explorations")

    def __init__(self, max_error_rate: float, max_exploration_rate: float) -> None:
        self._max_error_rate = max_error_rate
        self._max_exploration_rate = max_exploration_rate
        self.errors = 0.0
        self.explorations = 0.0

    def looked_up(self) -> None:
        """One more request the cache looked at: both buckets fill a little."""
        self.errors = min(self.errors + self._max_error_rate, self._max_error_rate * HORIZON)
        self.explorations = min(self.explorations + self._max_exploration_rate, self._max_exploration_rate * HORIZON)

    @property
    def may_explore(self) -> bool:
        """True when one more exploration stays within the exploration rate."""
        return self.explorations >= 1.0

    def spend_risk(self, risk: float) -> None:
        """A semantic hit with this chance of being wrong was served."""
        self.errors -= risk

    def spend_exploration(self) -> None:
        """A request was explored."""
        self.explorations -= 1.0
