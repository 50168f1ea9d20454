"""The ``[boto3]`` table: which buckets and queues of a boto3 application fail over, and to what.

::

    [[boto3.buckets]]            # in order; the first entry whose match fits a bucket name wins
    match = "orders-*"           # a name, or a glob of names (*, ?, [seq])
    s3 = "{bucket}"              # the bucket on the caller's own S3 (its client's endpoint), first
    stores = { gcp = "dr-{bucket}", azure = "{bucket}" }   # [stores.NAME] -> the bucket there

    [[boto3.queues]]
    match = "*"
    sqs = "{queue}"
    queues = { pubsub = "dr-{queue}" }

A template holds ``{bucket}`` (``{queue}``) where the application's name goes; the endpoint's own
settings (region, credentials, emulator) come from its ``[stores.NAME]`` (``[queues.NAME]``) table,
whose bucket or queue name the template replaces.
"""

from __future__ import annotations

import string

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["Boto3Config", "BucketMap", "QueueMap"]


def _check_template(template: str, placeholder: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    if names - {placeholder}:
        raise ValueError(f"a name template holds only {{{placeholder}}}, not {sorted(names - {placeholder})}")
    return template


class _Map(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    match: str = Field(min_length=1, description="A name, or a glob of names (*, ?, [seq]); the first match wins.")


class BucketMap(_Map):
    """One bucket name (or glob) and where its objects live on each provider."""

    s3: str | None = Field(
        "{bucket}",
        description="The bucket on the caller's own S3 (the boto3 client's endpoint and credentials), "
        "tried first; null: only the named stores.",
    )
    stores: dict[str, str] = Field(
        default_factory=dict, description="[stores.NAME] -> the bucket or container there, a template of {bucket}."
    )

    @field_validator("s3")
    @classmethod
    def _s3_template(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value, "bucket")

    @field_validator("stores")
    @classmethod
    def _store_templates(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _check_template(template, "bucket") for name, template in value.items()}


class QueueMap(_Map):
    """One queue name (or glob) and where its messages go on each provider."""

    sqs: str | None = Field(
        "{queue}",
        description="The queue on the caller's own SQS (the boto3 client's endpoint and credentials), "
        "tried first; null: only the named queues.",
    )
    queues: dict[str, str] = Field(
        default_factory=dict,
        description="[queues.NAME] -> the queue there (Pub/Sub: topic and subscription), a template of {queue}.",
    )

    @field_validator("sqs")
    @classmethod
    def _sqs_template(cls, value: str | None) -> str | None:
        return None if value is None else _check_template(value, "queue")

    @field_validator("queues")
    @classmethod
    def _queue_templates(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _check_template(template, "queue") for name, template in value.items()}


class Boto3Config(BaseModel):
    """The boto3 drop-in (`failover.compat.boto3`): bucket and queue names mapped by name or glob."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    buckets: list[BucketMap] = Field(default_factory=list, description="Buckets that fail over, in order.")
    queues: list[QueueMap] = Field(default_factory=list, description="Queues that fail over, in order.")
    account_id: str = Field(
        "000000000000",
        pattern=r"^\d{12}$",
        description="The account in the queue URLs the drop-in hands out (ENDPOINT/ACCOUNT/NAME).",
    )
