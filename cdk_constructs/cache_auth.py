"""How clients authenticate to a CacheReplicationGroup, and the secrets and RBAC users behind it."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from aws_cdk import Acknowledgment, Names, RemovalPolicy, Validations
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_data_tier.constructs.cache_props import (
    CacheEngine,
    CachePropsError,
    check_no_dangerous,
    prefixed_access_string,
)

_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
_DEFAULT_ACCESS = "on ~* &* +@all -@dangerous"
# ElastiCache AUTH tokens and RBAC passwords: 16-128 printable characters, only !&#$^<>- as punctuation.
# Alphanumerics alone keep clear of that list and of URL/shell quoting; 64 of them carry ~380 bits.
_PASSWORD_LENGTH = 64


@dataclass(frozen=True)
class CacheAuth:
    """`CacheAuth.auth_token()` (the default), `CacheAuth.rbac(username=...)`, or `CacheAuth.none()`.

    Either way the generated secret holds JSON `{"password": ...}`, plus `"username"` under RBAC.
    """

    mode: Literal["auth_token", "rbac", "none"]
    username: str | None = None
    access_string: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("auth_token", "rbac", "none"):
            raise CachePropsError(f"auth mode={self.mode!r} is not allowed: 'auth_token', 'rbac' or 'none'")
        if self.mode != "rbac":
            if self.username or self.access_string:
                raise CachePropsError(f"username={self.username!r} is not allowed with auth mode {self.mode!r}: "
                                      f"users belong to RBAC")
            return
        if not self.username or not _USERNAME.match(self.username) or self.username == "default":
            raise CachePropsError(f"username={self.username!r} is not allowed: 1-40 letters, digits, '_' or '-', "
                                  f"starting with a letter, and not 'default' (reserved for the disabled default user)")
        if not self.access_string or not self.access_string.strip():
            raise CachePropsError(f"access_string='' is not allowed: an ACL rule string such as {_DEFAULT_ACCESS!r}")
        check_no_dangerous(self.access_string)

    @classmethod
    def auth_token(cls) -> CacheAuth:
        return cls("auth_token")

    @classmethod
    def rbac(cls, username: str = "app", access_string: str = _DEFAULT_ACCESS) -> CacheAuth:
        return cls("rbac", username, access_string)

    @classmethod
    def rbac_for_prefixes(cls, username: str, key_prefixes: Sequence[str], also_allow: Sequence[str] = ()) -> CacheAuth:
        """An app user confined to keys and channels under `key_prefixes`, with every command but the @dangerous
        ones, plus the single commands in `also_allow` (say `info`, which clients read the server version with)."""
        return cls("rbac", username, prefixed_access_string(key_prefixes, also_allow))

    @classmethod
    def none(cls) -> CacheAuth:
        return cls("none")


_DISABLED_USER = ("Rule is wrong here: the secret holds the password of the Redis OSS default user, which is switched "
                  "off with no commands ('off -@all'); nobody can log in with it, so rotating it protects nothing")


def generated_secret(scope: Construct, construct_id: str, *, description: str, key: kms.IKey,
                     removal_policy: RemovalPolicy, username: str | None = None) -> secretsmanager.Secret:
    template = {"username": username} if username else {}
    secret = secretsmanager.Secret(
        scope,
        construct_id,
        description=description,
        encryption_key=key,
        removal_policy=removal_policy,
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template=json.dumps(template),
            generate_string_key="password",
            password_length=_PASSWORD_LENGTH,
            exclude_punctuation=True,
            include_space=False,
        ),
    )
    return secret


def resource_id(scope: Construct) -> str:
    """A lower-case ID unique to this construct path, as ElastiCache user and user-group IDs need (max 40)."""
    return Names.unique_resource_name(scope, max_length=40, separator="-").lower()


def _password_user(scope: Construct, construct_id: str, *, engine: CacheEngine, username: str, access_string: str,
                   secret: secretsmanager.ISecret) -> elasticache.CfnUser:
    password = secret.secret_value_from_json("password").unsafe_unwrap()
    user = elasticache.CfnUser(scope, construct_id, engine=engine.name, user_id="", user_name=username,
                               access_string=access_string,
                               authentication_mode={"Type": "password", "Passwords": [password]})
    # IDs are account-wide and create-only, so they come from the construct path, not from config.
    user.user_id = resource_id(user)
    return user


def rbac_user_group(
    scope: Construct, *, auth: CacheAuth, engine: CacheEngine, secret: secretsmanager.ISecret, key: kms.IKey,
    removal_policy: RemovalPolicy,
) -> tuple[elasticache.CfnUserGroup, elasticache.CfnUser]:
    """The group and the app's user in it, plus for Redis OSS the disabled `default` user every Redis OSS user
    group must contain."""
    assert auth.username and auth.access_string  # guaranteed by CacheAuth
    users = [_password_user(scope, "AppUser", engine=engine, username=auth.username,
                            access_string=auth.access_string, secret=secret)]
    if engine.name == "redis":
        default_secret = generated_secret(scope, "DefaultUserSecret", key=key, removal_policy=removal_policy,
                                          username="default",
                                          description="Password of the disabled Redis OSS default user "
                                                      "(no client uses it)")
        Validations.of(default_secret).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-SMG4", reason=_DISABLED_USER),
            Acknowledgment(id="HIPAA.Security::HIPAA.Security-SecretsManagerRotationEnabled", reason=_DISABLED_USER),
            Acknowledgment(id="NIST.800.53.R5::NIST.800.53.R5-SecretsManagerRotationEnabled", reason=_DISABLED_USER))
        # Switched off and stripped of every command: the slot Redis OSS requires, never a way in.
        users.append(_password_user(scope, "DefaultUser", engine=engine, username="default",
                                    access_string="off -@all", secret=default_secret))
    group = elasticache.CfnUserGroup(scope, "UserGroup", engine=engine.name, user_group_id="",
                                     user_ids=[u.ref for u in users])
    group.user_group_id = resource_id(group)
    return group, users[0]
