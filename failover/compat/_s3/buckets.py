"""CreateBucket and HeadBucket of a mapped bucket, on every provider it maps to.

CreateBucket creates the bucket (container) on each provider that answers; one that is down gets it
when its health is HEALTHY again (`Backends.create_when_back`), or from the next CreateBucket.
HeadBucket asks the providers in order: the first that answers a listing decides whether the bucket
exists. GetBucketLocation answers from the mapping. Other bucket calls pass through to S3.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from failover.compat._errors import Reply, S3Error
from failover.config import StoreConfig
from failover.errors import FailoverError, NotFound, ProviderUnavailable, Reason
from failover.storage import build_store

__all__ = ["BUCKET_HANDLERS", "BucketHandler"]

log = logging.getLogger(__name__)

BucketHandler = Callable[[Any, list[StoreConfig], Mapping[str, Any]], Reply]


def ensure_bucket(config: StoreConfig) -> bool:
    """Create the bucket ``config`` names if it is missing; False when the provider did not answer."""
    try:
        build_store(config.model_copy(update={"ensure": True})).close()
    except FailoverError as exc:
        log.warning("bucket %s not created on %s now: %s", config.name or config.kind, config.kind, exc)
        return False
    return True


def create_bucket(backends: Any, configs: list[StoreConfig], params: Mapping[str, Any]) -> Reply:
    missed = [index for index, config in enumerate(configs) if not ensure_bucket(config)]
    if missed and len(missed) < len(configs):
        backends.create_when_back(params["Bucket"], missed)
    if len(missed) == len(configs):
        raise S3Error("ServiceUnavailable", 503, f"no provider could create the bucket {params['Bucket']!r}")
    return Reply({"Location": f"/{params['Bucket']}"}, headers={"Location": f"/{params['Bucket']}"})


def head_bucket(backends: Any, configs: list[StoreConfig], params: Mapping[str, Any]) -> Reply:
    for config in configs:
        store = build_store(config)
        try:
            next(iter(store.list("failover-probe/")), None)
            return Reply({"BucketRegion": getattr(config, "region", None) or "us-east-1"})
        except NotFound:
            raise S3Error("NoSuchBucket", 404, "The specified bucket does not exist") from None
        except ProviderUnavailable as exc:
            if exc.reason is Reason.NO_BUCKET:  # the provider answered: the bucket is not there
                raise S3Error("NoSuchBucket", 404, "The specified bucket does not exist") from None
            continue
        except FailoverError:
            continue  # unreachable: the next provider decides
        finally:
            store.close()
    raise S3Error("ServiceUnavailable", 503, "no provider answered")


def get_bucket_location(backends: Any, configs: list[StoreConfig], params: Mapping[str, Any]) -> Reply:
    """The region of the bucket on the caller's S3 (S3 answers None for us-east-1), from the mapping."""
    region = next((getattr(config, "region", None) for config in configs if config.kind == "s3"), None)
    return Reply({"LocationConstraint": None if region in (None, "us-east-1") else region})


BUCKET_HANDLERS: dict[str, BucketHandler] = {
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "GetBucketLocation": get_bucket_location,
}
