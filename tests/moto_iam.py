"""A moto server that checks every request against its IAM users, and the application's user on it.

The first three requests (creating the admin user, its key and its policy) go unchecked; after that,
the application's calls are allowed or refused by the policy the test gives its user, and a key
the test deletes is rejected as credentials S3 no longer knows (InvalidAccessKeyId).
"""

from __future__ import annotations

import json
from typing import Any, Self

from failover.config import S3Config
from failover.testing.emulators import MotoServer

__all__ = ["IamMoto", "allow_statement", "deny_statement"]


class _AuthenticatingMoto(MotoServer):
    name = "moto-auth"

    def _environment(self) -> dict[str, str]:
        return {**super()._environment(), "INITIAL_NO_AUTH_ACTION_COUNT": "3"}


def allow_statement(action: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny_statement(action: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class IamMoto(_AuthenticatingMoto):
    """The authenticating moto, with an admin user and an application user ``app`` (allowed s3:*)."""

    def start(self) -> Self:
        super().start()
        if hasattr(self, "admin"):
            return self
        bootstrap = self._client("iam", "unchecked", "unchecked")
        bootstrap.create_user(UserName="admin")
        admin_key = bootstrap.create_access_key(UserName="admin")["AccessKey"]
        bootstrap.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=_policy(allow_statement("*")))
        self._admin_keys = (admin_key["AccessKeyId"], admin_key["SecretAccessKey"])
        self.admin = self._client("iam", *self._admin_keys)
        self.admin.create_user(UserName="app")
        self.new_app_key()
        self.set_app_policy(allow_statement("s3:*"))
        return self

    def _client(self, service: str, key: str, secret: str) -> Any:
        import boto3

        client: Any = boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )
        return client

    def admin_s3(self) -> Any:
        return self._client("s3", *self._admin_keys)

    def new_app_key(self) -> None:
        key = self.admin.create_access_key(UserName="app")["AccessKey"]
        self.app_key_id: str = key["AccessKeyId"]
        self.app_secret: str = key["SecretAccessKey"]

    def delete_app_key(self) -> None:
        self.admin.delete_access_key(UserName="app", AccessKeyId=self.app_key_id)

    def set_app_policy(self, *statements: dict[str, Any]) -> None:
        self.admin.put_user_policy(UserName="app", PolicyName="s3", PolicyDocument=_policy(*statements))

    def app_s3_config(self, bucket: str, **overrides: Any) -> S3Config:
        return self.s3_config(
            bucket, access_key_id=self.app_key_id, secret_access_key=self.app_secret, **{"ensure": False, **overrides}
        )
