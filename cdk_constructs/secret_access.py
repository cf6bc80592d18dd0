"""Read access to one Secrets Manager secret that shares its KMS key with other secrets.

`secret.grant_read(role)` lets the role decrypt with the secret's key for any secret that key encrypts,
and names the role in the key policy. When one key encrypts several credentials (the admin's and the
application user's), that would leave GetSecretValue on the resource as the only fence. This grant puts
everything in the grantee's own policy, and the decrypt permission holds only through Secrets Manager and
only for this secret's encryption context (Secrets Manager encrypts every version under `SecretARN`).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager


def grant_secret_read(grantee: iam.IGrantable, secret: secretsmanager.ISecret, key: kms.IKey) -> None:
    region = Stack.of(secret).region
    iam.Grant.add_to_principal(grantee=grantee, actions=["secretsmanager:GetSecretValue",
                                                         "secretsmanager:DescribeSecret"],
                               resource_arns=[secret.secret_arn])
    iam.Grant.add_to_principal(grantee=grantee, actions=["kms:Decrypt"], resource_arns=[key.key_arn], conditions={
        "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com",
                         "kms:EncryptionContext:SecretARN": secret.secret_arn}})
