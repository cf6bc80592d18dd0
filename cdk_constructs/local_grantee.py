"""Grant a role that lives in another stack without making that stack depend on this one.

`secret.grant_read(network.app_role)` would add the statement to the role's DefaultPolicy in the
Network stack, which would then reference this stack's resources: a cycle, because this stack already
depends on Network for the VPC. `LocalGrantee` collects what grant methods hand it into a
customer-managed policy that lives in this stack and is attached to the role by name. A managed
policy, not an inline one, because HIPAA and NIST 800-53 flag inline policies.
"""

from __future__ import annotations

import jsii
from aws_cdk import aws_iam as iam
from constructs import Construct


@jsii.implements(iam.IPrincipal)
class _PolicyPrincipal:
    def __init__(self, role: iam.IRole, policy: iam.ManagedPolicy) -> None:
        self._role = role
        self._policy = policy

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self

    @property
    def assume_role_action(self) -> str:
        return self._role.assume_role_action

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return self._role.policy_fragment

    @property
    def principal_account(self) -> str | None:
        return self._role.principal_account

    def add_to_policy(self, statement: iam.PolicyStatement) -> bool:
        return self.add_to_principal_policy(statement).statement_added

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        self._policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._policy)


@jsii.implements(iam.IGrantable)
class LocalGrantee(Construct):
    """`secret.grant_read(LocalGrantee(self, "AppHostAccess", role=network.app_role))`."""

    def __init__(self, scope: Construct, construct_id: str, *, role: iam.IRole, description: str = "") -> None:
        super().__init__(scope, construct_id)
        self.policy = iam.ManagedPolicy(self, "Policy", roles=[role],
                                        description=description or f"Grants from {scope.node.path}")
        self._principal = _PolicyPrincipal(role, self.policy)

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self._principal
