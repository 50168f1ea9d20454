"""S3 operations answered through a `FailoverStorage`: one module per family of operations.

Each handler takes the storage of the logical bucket and the call's parameters (as the caller gave
them, after botocore's own parameter handlers) and returns a `Reply` or raises `S3Error`.
"""

from __future__ import annotations

from failover.compat._s3.listing import LISTING
from failover.compat._s3.multipart import MULTIPART
from failover.compat._s3.objects import OBJECTS

__all__ = ["HANDLERS"]

HANDLERS = {**OBJECTS, **LISTING, **MULTIPART}
