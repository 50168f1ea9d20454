"""SQS operations answered through a `FailoverQueue`: queue calls and message calls.

Each handler takes the `QueueBackend` of the queue name and the call's parameters and returns a
`Reply` or raises `S3Error` (SQS's code, also as ``QueryErrorCode``, which botocore maps to
``client.exceptions``).
"""

from __future__ import annotations

from failover.compat._sqs.messages import MESSAGES
from failover.compat._sqs.queues import QUEUES

__all__ = ["HANDLERS"]

HANDLERS = {**QUEUES, **MESSAGES}
