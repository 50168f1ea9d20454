"""Retries on one provider: a direct first attempt, then tenacity, within a deadline and a budget.

The first attempt is a plain call: tenacity costs about 15 us a call, which the happy path does not
pay. Only after a failure whose disposition is RETRY does a `tenacity.Retrying` take over, with

- full-jitter exponential backoff (`FullJitterWait`: a random wait below ``min(cap, base * 2**n)``,
  the randomness injected),
- a stop after ``max_attempts`` attempts in all, or when the wait would leave the deadline less than
  its floor (`StopBeforeDeadline`), or when the provider's retry budget is empty
  (`StopWhenBudgetEmpty`), or when the endpoint's circuit opened meanwhile (`StopWhenRefused`): then
  the error goes back to the caller at once, which fails over.

FAILOVER and FATAL errors are never retried on the same provider. ``sleep`` is injected: a test
passes ``sleep=waits.append`` (or a manual clock's ``sleep``) and never waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_base, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_exponential

from failover.errors import ConfigError, Disposition
from failover.policy.budget import RequestBudget, RetryBudget
from failover.policy.classify import classify
from failover.policy.deadline import Deadline
from failover.policy.jitter import jitter

__all__ = [
    "Attempt",
    "FailureListener",
    "FullJitterWait",
    "RetryIfDisposition",
    "RetryPolicy",
    "StopBeforeDeadline",
    "StopWhenBudgetEmpty",
    "StopWhenRefused",
]

T = TypeVar("T")

Attempt = Callable[[float], T]
"""One attempt: receives the timeout (seconds) to pass to the adapter, returns its result."""

FailureListener = Callable[[BaseException], None]
"""Told of each failed attempt as it happens, before the policy decides whether to retry."""


class FullJitterWait(wait_exponential):
    """Full jitter: a uniform random wait in ``[0, min(cap, base * 2**(attempt - 1)))``.

    Tenacity's own ``wait_full_jitter`` draws from the global `random` module; this one takes the
    random source (a ``() -> float`` in ``[0, 1)``) so that tests can fix it.
    """

    def __init__(self, base: float, cap: float, random: Callable[[], float] = jitter) -> None:
        super().__init__(multiplier=base, max=cap)
        self.random = random

    def __call__(self, retry_state: RetryCallState) -> float:
        return self.random() * super().__call__(retry_state)


class RetryIfDisposition(retry_base):
    """Retry when the failure's disposition is one of ``dispositions`` (RETRY by default)."""

    def __init__(self, *dispositions: Disposition) -> None:
        self.dispositions = frozenset(dispositions or (Disposition.RETRY,))

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        if outcome is None or not outcome.failed:
            return False
        error = outcome.exception()
        return error is not None and classify(error) in self.dispositions


class StopBeforeDeadline(stop_base):
    """Stop when, after the coming wait, the deadline would have less than its floor left."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return not self.deadline.can_start_attempt(after=retry_state.upcoming_sleep)


class StopWhenRefused(stop_base):
    """Stop when ``admit()`` says no more calls may go to the endpoint (its circuit opened meanwhile)."""

    def __init__(self, admit: Callable[[], bool]) -> None:
        self.admit = admit

    def __call__(self, retry_state: RetryCallState) -> bool:
        return not self.admit()


class StopWhenBudgetEmpty(stop_base):
    """Stop when the retry budget has no token; when it has one, spend it on the coming retry.

    Consulting it spends a token, so combine it after the stops that cost nothing:
    ``free_stops | StopWhenBudgetEmpty(budget)`` (tenacity's ``|`` asks the stops in order and stops
    at the first that says stop).
    """

    def __init__(self, budget: RequestBudget) -> None:
        self.budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        return not self.budget.try_spend()


def _no_failure_listener(error: BaseException) -> None:
    return None


class RetryPolicy:
    """How one provider's calls are retried. Give each provider its own (its budget is per provider).

    ``attempt_timeout`` bounds each attempt (None: whatever the deadline leaves).

    ``on_failure`` hears every failed attempt as it happens, the last one (which `call` raises)
    included: give it the endpoint's ``HealthTracker.record_failure``, and the caller has only
    successes left to record. ``admit`` is asked before each retry (give it the tracker's
    ``allow_request``): once the failures it heard opened the circuit, no retry is sent.
    """

    def __init__(
        self,
        max_attempts: int = 2,
        base: float = 0.05,
        cap: float = 1.0,
        *,
        budget: RequestBudget | None = None,
        attempt_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = jitter,
        on_failure: FailureListener = _no_failure_listener,
        admit: Callable[[], bool] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ConfigError(f"max_attempts is at least 1, not {max_attempts!r}", field="max_attempts")
        if base < 0 or cap < 0:
            raise ConfigError("retry backoff base and cap are not negative", field="base")
        if attempt_timeout is not None and not attempt_timeout > 0:
            raise ConfigError(f"attempt_timeout must be positive, not {attempt_timeout!r}", field="attempt_timeout")
        self.max_attempts = max_attempts
        self.base = base
        self.cap = cap
        self.budget = budget if budget is not None else RetryBudget()
        self.attempt_timeout = attempt_timeout
        self.on_failure = on_failure
        self.admit = admit
        self._sleep = sleep
        self._wait = FullJitterWait(base, cap, random)
        self._retry_if = RetryIfDisposition(Disposition.RETRY)

    def call(self, attempt: Callable[[float], T], deadline: Deadline) -> T:
        """Run ``attempt(timeout)``, retrying RETRY failures as the policy allows; raise the last error.

        The caller checks ``deadline.can_start_attempt()`` before calling: the first attempt is always
        made, with what the deadline leaves.
        """
        self.budget.record_request()
        try:
            return attempt(deadline.attempt_timeout(self.attempt_timeout))
        except Exception as exc:
            self.on_failure(exc)
            if self.max_attempts < 2 or classify(exc) is not Disposition.RETRY:
                raise
            first_error = exc
        # Outside the except block, so that a later failure is not chained to the first one.
        return self._retry(attempt, deadline, first_error)

    def _retry(self, attempt: Callable[[float], T], deadline: Deadline, first_error: Exception) -> T:
        replay: list[Exception] = [first_error]

        def run() -> T:
            # Tenacity's attempt 1 is the failure already met: it is replayed, not repeated, so that
            # tenacity's attempt numbers, waits and stops count the real attempts.
            if replay:
                raise replay.pop()
            try:
                return attempt(deadline.attempt_timeout(self.attempt_timeout))
            except Exception as exc:
                self.on_failure(exc)  # before tenacity decides, so that `admit` knows of it
                raise

        # Asking the budget spends a token, so it comes after the stops that cost nothing. The admission
        # comes last: on a PROBING endpoint it takes a trial slot, and a refused retry must not hold one.
        stop = stop_after_attempt(self.max_attempts) | StopBeforeDeadline(deadline) | StopWhenBudgetEmpty(self.budget)
        if self.admit is not None:
            stop = stop | StopWhenRefused(self.admit)
        retrying = Retrying(
            sleep=self._sleep_for,
            stop=stop,
            wait=self._wait,
            retry=self._retry_if,
            reraise=True,
        )
        return retrying(run)

    def _sleep_for(self, seconds: float) -> None:
        self._sleep(float(seconds))

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_attempts={self.max_attempts}, base={self.base}, cap={self.cap}, "
            f"attempt_timeout={self.attempt_timeout}, budget={self.budget!r})"
        )
