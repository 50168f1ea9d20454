"""The hooks that answer a botocore client's calls through failover.

``before-parameter-build`` keeps the call's parameters (after botocore's own handlers) in the
request context; ``before-call.<service>.<Operation>`` answers with ``(http_response, parsed)``
when the bucket is mapped, which makes botocore skip the HTTP request and run everything else as
usual (after-call handlers, the error class, paginators, waiters, s3transfer). It returns None
for an unmapped bucket, so that call goes to the endpoint unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from botocore.awsrequest import AWSResponse

from failover.compat._errors import Reply, S3Error, from_failover, respond
from failover.compat._mapping import NameRejected
from failover.compat._s3._shapes import Handler
from failover.compat._shortcut import install_shortcut
from failover.compat._sqs.backend import queue_name
from failover.errors import FailoverError

__all__ = ["PARAMS", "install_s3", "install_sqs"]

log = logging.getLogger(__name__)

PARAMS = "failover_params"
_HEAD_OPERATIONS = frozenset({"HeadObject", "HeadBucket"})


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[PARAMS] = params


def install_s3(
    client: Any, backends: Any, handlers: Mapping[str, Handler], bucket_handlers: Mapping[str, Any] | None = None
) -> None:
    """Register the S3 handlers on ``client``'s own event system (its copy, not the session's)."""
    events = client.meta.events
    events.register("before-parameter-build.s3", _keep_params, unique_id="failover-compat-params")
    for operation, bucket_handler in (bucket_handlers or {}).items():
        events.register(
            f"before-call.s3.{operation}",
            partial(_answer_bucket, operation, bucket_handler, backends),
            unique_id=f"failover-compat-{operation}",
        )
    for operation, handler in handlers.items():
        events.register(
            f"before-call.s3.{operation}",
            partial(_answer_s3, operation, handler, backends.storage),
            unique_id=f"failover-compat-{operation}",
        )
    events.register("before-call.s3.ListBuckets", partial(_answer_list, backends), unique_id="failover-compat-list")
    install_shortcut(client, backends, handlers)


def _answer_list(backends: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    """ListBuckets through failover when the client maps buckets (by a configuration, or given storages)."""
    if backends.names is None and not backends.given():
        return None
    from failover.compat._s3.buckets import list_buckets

    result: Reply | S3Error
    try:
        result = list_buckets(backends, {})
    except S3Error as exc:
        result = exc
    return respond(result)


def _answer_bucket(
    operation: str, handler: Any, backends: Any, context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    params: dict[str, Any] = context.get(PARAMS) or {}
    bucket = params.get("Bucket")
    if not isinstance(bucket, str):
        return None
    result: Reply | S3Error
    try:
        configs = backends.configs(bucket)
        if configs is None:
            return None
        result = handler(backends, configs, params)
    except NameRejected as exc:
        result = S3Error("InvalidBucketName", 400, str(exc), BucketName=bucket)
    except S3Error as exc:
        result = exc
    return respond(result, head=operation in _HEAD_OPERATIONS)


def _answer_s3(
    operation: str,
    handler: Handler,
    storage_of: Callable[[str], Any],
    context: dict[str, Any],
    **_: Any,
) -> tuple[AWSResponse, dict[str, Any]] | None:
    params: dict[str, Any] = context.get(PARAMS) or {}
    bucket = params.get("Bucket")
    if not isinstance(bucket, str):
        return None
    try:
        storage = storage_of(bucket)
    except NameRejected as exc:
        return respond(S3Error("InvalidBucketName", 400, str(exc), BucketName=bucket))
    if storage is None:
        return None
    result: Reply | S3Error
    try:
        result = handler(storage, params, storage_of)
    except S3Error as exc:
        result = exc
    return respond(result, head=operation in _HEAD_OPERATIONS)


# SQS answers JSON errors with a legacy code and the modeled one in QueryErrorCode (which botocore
# uses to pick the exception class); the failover table speaks S3, so its codes are renamed here.
_SQS_CODES = {"NoSuchKey": "QueueDoesNotExist", "InvalidArgument": "InvalidParameterValue"}
_SQS_LEGACY = {"QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue"}
_BY_NAME = frozenset({"CreateQueue", "GetQueueUrl"})


def install_sqs(client: Any, backends: Any, handlers: Mapping[str, Any]) -> None:
    """Register the SQS handlers on ``client``'s own event system."""
    events = client.meta.events
    events.register("before-parameter-build.sqs", _keep_params, unique_id="failover-compat-sqs-params")
    for operation, handler in handlers.items():
        events.register(
            f"before-call.sqs.{operation}",
            partial(_answer_sqs, operation, handler, backends),
            unique_id=f"failover-compat-sqs-{operation}",
        )
    events.register("before-call.sqs.ListQueues", partial(_answer_queues, backends), unique_id="failover-compat-lq")


def _answer_queues(backends: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    """ListQueues through failover when the client maps queues (by a configuration, or given queues)."""
    if backends.names is None and not backends.given():
        return None
    from failover.compat._sqs.queues import list_queues

    result: Reply | S3Error
    try:
        result = list_queues(backends, context.get(PARAMS) or {})
    except S3Error as exc:
        result = _sqs_error(exc)
    return respond(result)


def _sqs_error(error: S3Error) -> S3Error:
    code = _SQS_CODES.get(error.code, error.code)
    fields = {"Type": "Sender" if error.status < 500 else "Receiver", **error.fields, "QueryErrorCode": code}
    status = 400 if error.status == 404 else error.status  # SQS answers a missing queue with 400
    return S3Error(_SQS_LEGACY.get(code, code), status, error.message, **fields)


def _answer_sqs(
    operation: str, handler: Any, backends: Any, context: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]] | None:
    params: dict[str, Any] = context.get(PARAMS) or {}
    name = params.get("QueueName") if operation in _BY_NAME else queue_name(str(params.get("QueueUrl") or ""))
    if not isinstance(name, str) or not name:
        return None
    result: Reply | S3Error
    try:
        if not backends.mapped(name):
            return None
        backend = backends.get(name, create=operation == "CreateQueue", attributes=params.get("Attributes"))
        if backend is None:
            return None
        result = handler(backend, params)
    except NameRejected as exc:
        result = S3Error("InvalidParameterValue", 400, str(exc))
    except S3Error as exc:
        result = exc
    except FailoverError as exc:
        result = from_failover(exc, not_found="QueueDoesNotExist")
    if isinstance(result, S3Error):
        result = _sqs_error(result)
    elif operation == "DeleteQueue":
        backends.forget(name)
    return respond(result)
