"""The short way through a drop-in S3 client for the plain object calls.

A call through botocore costs about 150 us before any answer is made (measured in
``benchmarks/compat.py``): the endpoint ruleset, parameter validation, serialization to an HTTP
request, the user agent, a request checksum, a dozen event handlers. None of that matters to a call
answered by `FailoverStorage`. So PutObject, GetObject, HeadObject and DeleteObject on a mapped
bucket, with only the plain parameters below, go straight from the client's method to the handler
that the ``before-call`` hook would have run, and come back in the same shape: the same parsed
dict, the same `ClientError` class from ``client.exceptions``.

Everything else takes botocore's whole way (and the hooks of `failover.compat._hooks`): another
operation, another parameter (SSE-C, checksums, a str ``IfModifiedSince`` ...), a value botocore
would reject (its error is botocore's own), an unmapped bucket, and any client on whose events
something other than botocore, boto3, s3transfer or the drop-in listens for the operation (a
`Stubber`, an application's handler), which must still be called.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from failover.compat._errors import Reply, S3Error, answer
from failover.compat._mapping import NameRejected
from failover.compat._s3._shapes import Handler

__all__ = ["install_shortcut"]

# The parameters each short call may carry, and what botocore's validation would accept for each.
_TEXT: Callable[[object], bool] = lambda value: isinstance(value, str)  # noqa: E731
_KEY: Callable[[object], bool] = lambda value: isinstance(value, str) and value != ""  # noqa: E731
_BODY: Callable[[object], bool] = lambda value: isinstance(value, bytes | bytearray)  # noqa: E731


def _metadata(value: object) -> bool:
    """A dict of str to str, all ASCII (botocore's ``validate_ascii_metadata``)."""
    return isinstance(value, dict) and all(
        isinstance(name, str) and isinstance(item, str) and name.isascii() and item.isascii()
        for name, item in value.items()
    )


_COMMON = {"Bucket": _TEXT, "Key": _KEY}
PLAIN: dict[str, dict[str, Callable[[object], bool]]] = {
    "PutObject": {**_COMMON, "Body": _BODY, "ContentType": _TEXT, "Metadata": _metadata},
    "GetObject": {**_COMMON, "Range": _TEXT, "IfMatch": _TEXT, "IfNoneMatch": _TEXT},
    "HeadObject": {**_COMMON, "IfMatch": _TEXT, "IfNoneMatch": _TEXT},
    "DeleteObject": _COMMON,
}
_HEAD = frozenset({"HeadObject"})
_VALID_BUCKET = re.compile(r"[a-zA-Z0-9.\-_]{1,255}\Z")  # botocore's, before an ARN
# Whose event handlers the short way may skip: what they do for a plain call is done here, or
# concerns the HTTP request that is never made (endpoint, signing, retries, checksums).
_OWN_MODULES = ("botocore.", "boto3.", "s3transfer.", "failover.compat.")
_FOREIGN_MODULES = ("botocore.stub",)
_SKIPPED_EVENTS = ("provide-client-params", "before-parameter-build", "before-call", "after-call")


def _plain(operation: str, params: Mapping[str, Any]) -> bool:
    allowed = PLAIN.get(operation)
    if allowed is None:
        return False
    for name, value in params.items():
        check = allowed.get(name)
        if check is None or not check(value):
            return False
    bucket = params.get("Bucket")
    return isinstance(bucket, str) and "Key" in params and _VALID_BUCKET.match(bucket) is not None


def _module(handler: object) -> str:
    inner = getattr(handler, "func", handler)  # a partial
    inner = getattr(inner, "__func__", inner)  # a bound method
    return str(getattr(inner, "__module__", "") or "")


class _Listeners:
    """Whether only botocore's, boto3's and the drop-in's own handlers listen on an operation's events.

    The answer is kept until the client's emitter changes its handlers (botocore replaces its
    lookup cache on every register and unregister). Without the emitter's internals (another
    botocore), every call takes the whole way.
    """

    def __init__(self, events: Any) -> None:
        self._emitter = getattr(events, "_emitter", None)
        self._seen: object = None
        self._quiet: dict[str, bool] = {}

    def quiet(self, operation: str) -> bool:
        cache = getattr(self._emitter, "_lookup_cache", None)
        if cache is None:
            return False
        if cache is not self._seen:
            self._seen, self._quiet = cache, {}
        known = self._quiet.get(operation)
        if known is None:
            known = self._quiet[operation] = self._only_own(operation)
        return known

    def _only_own(self, operation: str) -> bool:
        handlers = getattr(self._emitter, "_handlers", None)
        if handlers is None:
            return False
        for event in _SKIPPED_EVENTS:
            for handler in handlers.prefix_search(f"{event}.s3.{operation}"):
                module = _module(handler)
                if not module.startswith(_OWN_MODULES) or module.startswith(_FOREIGN_MODULES):
                    return False
        return True


def install_shortcut(client: Any, backends: Any, handlers: Mapping[str, Handler]) -> None:
    """Answer ``client``'s plain object calls on mapped buckets without botocore's request pipeline."""
    whole_way: Callable[[str, dict[str, Any]], Any] = client._make_api_call
    listeners = _Listeners(client.meta.events)
    exceptions = client.exceptions
    storage_of = backends.storage

    def make_api_call(operation_name: str, api_params: dict[str, Any]) -> Any:
        if not _plain(operation_name, api_params) or not listeners.quiet(operation_name):
            return whole_way(operation_name, api_params)
        try:
            storage = storage_of(api_params["Bucket"])
        except NameRejected:
            storage = None  # the whole way answers InvalidBucketName
        if storage is None:
            return whole_way(operation_name, api_params)
        result: Reply | S3Error
        try:
            result = handlers[operation_name](storage, api_params, storage_of)
        except S3Error as exc:
            result = exc
        status, parsed = answer(result, head=operation_name in _HEAD)
        if status >= 300:
            raise exceptions.from_code(parsed["Error"]["Code"])(parsed, operation_name)
        return parsed

    client._make_api_call = make_api_call
