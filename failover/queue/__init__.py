"""`FailoverQueue`: a `MessageQueue` over several queues on several providers.

Send goes to the first healthy queue; receive drains every queue that may hold messages, so nothing
sent during an outage is stranded; ack, nack and extend go to the queue that delivered the message.
Delivery is at least once; with a dedup window, processing is exactly once for consumers that ack
after processing. Bodies larger than the smallest queue takes go through a claim-check store.
"""

from failover.queue._build import SupportsProbe, probe_queue, queue_from_config
from failover.queue._claims import CLAIM_PREFIX
from failover.queue._limits import FAILOVER_ATTRIBUTES, QueueLimits
from failover.queue._queue import DEFAULT_DEDUP_TTL, DEFAULT_DRAIN_INTERVAL, FailoverQueue
from failover.queue._receive import QueueCounters

__all__ = [
    "CLAIM_PREFIX",
    "DEFAULT_DEDUP_TTL",
    "DEFAULT_DRAIN_INTERVAL",
    "FAILOVER_ATTRIBUTES",
    "FailoverQueue",
    "QueueCounters",
    "QueueLimits",
    "SupportsProbe",
    "probe_queue",
    "queue_from_config",
]
