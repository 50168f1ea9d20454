"""Where multipart uploads keep their parts until CompleteMultipartUpload: objects of the same storage
under a reserved prefix, so that parts fail over as any write does and listings never show them."""

from __future__ import annotations

__all__ = ["STAGING_PREFIX"]

STAGING_PREFIX = "failover-multipart/"
