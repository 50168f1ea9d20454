"""Secrets kept out of the SDKs' DEBUG logs.

At DEBUG, botocore logs each request's headers (the session token, the Authorization header) and
the canonical request it signs; urllib3 logs each URL, an Azure SAS signature included; the Azure
and Google SDKs log requests too. `install` puts one `RedactingFilter` on every logger of those SDKs
that exists when an adapter is built (each adapter calls it after importing its SDK, with its own
secrets), so whoever turns DEBUG on for them sees the requests, not the credentials.

The filter replaces the secrets it was given wherever they appear, and by pattern the values of
the headers and query parameters that carry credentials (``Authorization``, ``X-Amz-Security-Token``,
``X-Amz-Signature``, ``X-Amz-Credential``, SAS ``sig``, ``SharedAccessSignature``, ``AccountKey``,
``access_token``, ``refresh_token``, ``client_secret``), in the message and in the traceback of a
record logged with ``exc_info`` (an SDK's exception may carry a signed URL). The package's own
loggers (``failover.*``) get the filter too: their messages quote the SDKs' errors. A filter acts on
the records of the logger it is attached to: a logger created after the last `install` is not
covered until the next.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = ["FILTERED_LOGGERS", "REDACTED", "SDK_LOGGERS", "RedactingFilter", "install", "redacting_filter"]

REDACTED = "***"
SDK_LOGGERS = (
    *("botocore", "boto3", "s3transfer", "urllib3", "requests", "azure", "google", "google_auth_httplib2"),
    *("grpc", "msal"),  # Pub/Sub's transport; azure-identity's token client
    # google-cloud-pubsub's subscriber logs under names of its own, outside "google".
    *("ack-nack", "slow-ack", "subscriber-streams", "subscriber-flow-control", "callback-delivery"),
    *("callback-exceptions", "expiry"),
    *("psycopg", "psycopg_pool"),  # the fleet's PostgreSQL driver and pool: a DSN carries a password
)
"""The SDKs' loggers (and their children)."""
FILTERED_LOGGERS = ("failover", *SDK_LOGGERS)
"""The loggers (and their children) the filter is installed on."""

_NAMES = (
    r"x-amz-security-token|x-amz-signature|x-amz-credential|authorization|sig|sharedaccesssignature|accountkey"
    r"|password|access_token|refresh_token|id_token|client_secret|private_key|x-goog-signature|x-goog-credential"
)
_PATTERNS = (
    # name: value in headers, dict reprs and canonical requests ('Authorization': 'AWS4-HMAC ...').
    re.compile(rf"""(?i)(["']?\b(?:{_NAMES})["']?\s*[:=]\s*["']?)([^"'\r\n,}}&;]+)"""),
    # name=value in query strings and connection strings.
    re.compile(rf"""(?i)([?&;]\s*(?:{_NAMES})=)([^&;\s"']+)"""),
)
_MIN_SECRET = 6  # shorter "secrets" (test placeholders) would redact ordinary words


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with every known secret and credential value replaced."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        with self._lock:
            known = set(self._secrets)
            known.update(secret for secret in secrets if secret and len(secret) >= _MIN_SECRET)
            # Longest first: a secret that contains another is replaced whole.
            self._secrets = tuple(sorted(known, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern in _PATTERNS:
            text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # Formatted here, as a handler's Formatter would, which then prints this text as it is.
            record.exc_text = self.redact(_FORMATTER.formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not format: leave it to the handler's error path
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FORMATTER = logging.Formatter()


_FILTER = RedactingFilter()


def redacting_filter() -> RedactingFilter:
    """The one filter `install` attaches."""
    return _FILTER


def install(secrets: Iterable[str | None] = ()) -> RedactingFilter:
    """Attach the filter to every SDK and package logger that exists now, and teach it ``secrets``."""
    _FILTER.add_secrets(secrets)
    names = [name for name in list(logging.root.manager.loggerDict) if _is_sdk(name)]
    for name in {*names, *FILTERED_LOGGERS}:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    return _FILTER


def _is_sdk(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in FILTERED_LOGGERS)
