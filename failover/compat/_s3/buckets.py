"""CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation and ListBuckets of mapped buckets, on
every provider they map to.

CreateBucket creates the bucket (container) on each provider that answers; one that is down gets it
when it answers again (`Backends.when_back`), or from the next CreateBucket. HeadBucket asks the
providers in order: the first that answers a listing decides whether the bucket exists.
DeleteBucket refuses a bucket that the failover listing finds an object in (BucketNotEmpty), then
deletes it on each provider (one that is down, when it answers again). GetBucketLocation answers
from the mapping. ListBuckets is the union of each account's buckets that the mappings reach, under
the application's names (the caller's S3 as S3 lists it), so it still lists the mapped buckets
while S3 is down. Other bucket calls pass through to S3.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from failover.compat._errors import Reply, S3Error, from_failover
from failover.compat._s3._shapes import seconds
from failover.compat._s3.providers import Outcome
from failover.compat._s3.providers import delete_bucket as delete_bucket_on
from failover.compat._s3.providers import list_buckets as list_buckets_on
from failover.config import StoreConfig
from failover.errors import FailoverError, NotFound, ProviderUnavailable, Reason
from failover.storage import build_store

__all__ = ["BUCKET_HANDLERS", "BucketHandler", "list_buckets"]

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
        store = build_store(config.model_copy(update={"ensure": False}))  # asks; never creates
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


def deleted(config: StoreConfig) -> bool:
    """Delete the bucket ``config`` names; False when the provider did not answer (try again later)."""
    return delete_bucket_on(config) is not Outcome.UNREACHABLE


def delete_bucket(backends: Any, configs: list[StoreConfig], params: Mapping[str, Any]) -> Reply:
    bucket = params["Bucket"]
    head_bucket(backends, configs, params)  # NoSuchBucket when the first provider that answers says so
    storage = backends.storage(bucket)
    try:
        first = next(iter(storage.list("")), None) if storage is not None else None
    except FailoverError as exc:
        raise from_failover(exc) from exc
    if first is not None:
        raise S3Error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty", BucketName=bucket)
    outcomes = [delete_bucket_on(config) for config in configs]
    if all(outcome is Outcome.MISSING for outcome in outcomes):
        raise S3Error("NoSuchBucket", 404, "The specified bucket does not exist", BucketName=bucket)
    if all(outcome is Outcome.UNREACHABLE for outcome in outcomes):
        raise S3Error("ServiceUnavailable", 503, f"no provider could delete the bucket {bucket!r}")
    missed = [index for index, outcome in enumerate(outcomes) if outcome is Outcome.UNREACHABLE]
    if missed:
        backends.when_back(bucket, missed, deleted)
    backends.forget(bucket)
    return Reply({}, status=204)


def list_buckets(backends: Any, params: Mapping[str, Any]) -> Reply:
    """Every account's buckets that the mappings reach, by the application's name; 503 when none answers."""
    names = backends.names
    found: dict[str, datetime | None] = {}
    answered = False
    for account, logical_of in names.bucket_accounts() if names is not None else []:
        listed = list_buckets_on(account)
        if listed is None:
            continue
        answered = True
        for name, created in listed:
            logical = logical_of(name)
            if logical is not None and (logical not in found or found[logical] is None):
                found[logical] = created
    if not answered and names is not None:
        raise S3Error("ServiceUnavailable", 503, "no provider answered ListBuckets")
    for given in backends.given():
        found.setdefault(given, None)
    buckets = [{"Name": name, "CreationDate": seconds(found[name])} for name in sorted(found)]
    return Reply({"Buckets": buckets, "Owner": {"DisplayName": "failover", "ID": "failover"}})


BUCKET_HANDLERS: dict[str, BucketHandler] = {
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "DeleteBucket": delete_bucket,
    "GetBucketLocation": get_bucket_location,
}
