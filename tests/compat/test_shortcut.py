"""The short way: plain object calls on a mapped bucket skip botocore's request pipeline, everything
else (other parameters, invalid values, an application's own event handlers) takes the whole way."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from tests.compat.conftest import BUCKET


@pytest.fixture
def serialized(s3: Any) -> Iterator[list[str]]:
    """The operations botocore serialized into an HTTP request (the whole way)."""
    seen: list[str] = []
    serializer = s3._serializer
    original = serializer.serialize_to_request

    def counting(parameters: Any, operation_model: Any) -> Any:
        seen.append(operation_model.name)
        return original(parameters, operation_model)

    serializer.serialize_to_request = counting
    yield seen
    serializer.serialize_to_request = original


def test_plain_put_get_head_delete_skip_botocore_serialization(s3: Any, serialized: list[str]) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x", ContentType="text/plain", Metadata={"k": "v"})
    assert s3.get_object(Bucket=BUCKET, Key="a")["Body"].read() == b"x"
    assert s3.head_object(Bucket=BUCKET, Key="a")["Metadata"] == {"k": "v"}
    s3.delete_object(Bucket=BUCKET, Key="a")
    assert serialized == []


def test_a_call_with_another_parameter_takes_the_whole_way(s3: Any, serialized: list[str]) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x", CacheControl="no-cache")
    assert serialized == ["PutObject"]


def test_an_unmapped_bucket_takes_the_whole_way(s3: Any, serialized: list[str]) -> None:
    with pytest.raises(EndpointConnectionError):  # nobody listens on the endpoint
        s3.head_object(Bucket="not-mapped", Key="a")
    assert serialized == ["HeadObject"]


def test_an_empty_key_is_botocores_validation_error(s3: Any) -> None:
    with pytest.raises(ParamValidationError):
        s3.put_object(Bucket=BUCKET, Key="", Body=b"x")


def test_an_invalid_bucket_name_is_botocores_validation_error(s3: Any) -> None:
    with pytest.raises(ParamValidationError):
        s3.get_object(Bucket="app bucket", Key="a")


def test_non_ascii_metadata_is_botocores_validation_error(s3: Any) -> None:
    with pytest.raises(ParamValidationError):
        s3.put_object(Bucket=BUCKET, Key="a", Body=b"x", Metadata={"k": "vé"})


def test_a_body_of_another_type_is_botocores_validation_error(s3: Any) -> None:
    with pytest.raises(ParamValidationError):
        s3.put_object(Bucket=BUCKET, Key="a", Body=12)


def test_errors_on_the_short_way_are_the_clients_own_classes(s3: Any) -> None:
    with pytest.raises(s3.exceptions.NoSuchKey) as error:
        s3.get_object(Bucket=BUCKET, Key="missing")
    assert error.value.operation_name == "GetObject"
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=BUCKET, Key="missing")
    assert head.value.response["Error"]["Code"] == "404"


def test_an_application_handler_added_later_still_sees_the_call(s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")  # the short way, before the handler exists

    def tag(params: dict[str, Any], **_: Any) -> None:
        params["Metadata"] = {"tagged": "yes"}

    s3.meta.events.register("before-parameter-build.s3.PutObject", tag)
    s3.put_object(Bucket=BUCKET, Key="b", Body=b"x")
    assert s3.head_object(Bucket=BUCKET, Key="b")["Metadata"] == {"tagged": "yes"}


def test_an_after_call_handler_is_called(s3: Any) -> None:
    seen: list[int] = []
    s3.meta.events.register(
        "after-call.s3.HeadObject", lambda http_response, **_: seen.append(http_response.status_code)
    )
    s3.put_object(Bucket=BUCKET, Key="a", Body=b"x")
    s3.head_object(Bucket=BUCKET, Key="a")
    assert seen == [200]
