"""The resilience engine's policies: classification, deadlines, retries and their budgets."""

from failover.policy.budget import RequestBudget, RetryBudget
from failover.policy.classify import classify, is_refusal, is_timeout, opens_circuit_at_once
from failover.policy.deadline import DEFAULT_DEADLINE, DEFAULT_FLOOR, Deadline
from failover.policy.retry import (
    FullJitterWait,
    RetryIfDisposition,
    RetryPolicy,
    StopBeforeDeadline,
    StopWhenBudgetEmpty,
    StopWhenRefused,
)

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_FLOOR",
    "Deadline",
    "FullJitterWait",
    "RequestBudget",
    "RetryBudget",
    "RetryIfDisposition",
    "RetryPolicy",
    "StopBeforeDeadline",
    "StopWhenBudgetEmpty",
    "StopWhenRefused",
    "classify",
    "is_refusal",
    "is_timeout",
    "opens_circuit_at_once",
]
