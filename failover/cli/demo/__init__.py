"""``failover demo``: a small application rides through an AWS outage on local clouds.

The demo starts moto, fake-gcs-server and Azurite, then runs writers (puts and reads through a
FailoverStorage over S3, GCS and Azure Blob) and a producer and a consumer (through a FailoverQueue
over SQS and Azure Queue). A quarter of the way in, AWS's host name stops resolving; halfway, it
resolves again. Then the application stops, the consumer takes what is left, the journal drains, and
every acknowledged object is read back from every store. The run succeeds (exit 0) only if no
operation failed, no message was lost and every object is on every store.
"""

from __future__ import annotations

from failover.cli.demo.run import DemoOptions, run_demo

__all__ = ["DemoOptions", "run_demo"]
