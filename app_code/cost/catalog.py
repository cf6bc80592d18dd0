"""Every CloudFormation resource type the stacks create, sorted by how it bills.

A type in none of these sets is unknown: the estimate shows it as "not priced" and the tests fail, so a new
kind of resource cannot slip into the templates uncounted.
"""

from __future__ import annotations

# Types usage.py turns into priced lines.
PRICED = frozenset({
    "AWS::EC2::NatGateway", "AWS::EC2::EIP", "AWS::EC2::VPCEndpoint", "AWS::EC2::Instance",
    "AWS::RDS::DBInstance", "AWS::RDS::DBCluster", "AWS::ElastiCache::ReplicationGroup", "AWS::KMS::Key",
    "AWS::SecretsManager::Secret", "AWS::CloudWatch::Alarm", "AWS::Logs::LogGroup", "AWS::DynamoDB::GlobalTable",
    "AWS::DynamoDB::Table",
})

# Billed by use alone (requests, GB stored in backups): a line that says so, never a guessed number.
NOT_PRICED = {
    "AWS::Lambda::Function": "per request and GB-second (invoked at deploy time, or a few rotations a month)",
    "AWS::Serverless::Application": "deploys a rotation Lambda, billed per request and GB-second",
    "AWS::SNS::Topic": "per publish and delivery",
    "AWS::Backup::BackupVault": "per GB-month of recovery points",
}

# No charge of their own (or charged through another line, as named).
FREE = {
    "AWS::CDK::Metadata": "CDK's version report",
    "AWS::EC2::VPC": "no charge", "AWS::EC2::Subnet": "no charge", "AWS::EC2::RouteTable": "no charge",
    "AWS::EC2::Route": "no charge", "AWS::EC2::SubnetRouteTableAssociation": "no charge",
    "AWS::EC2::InternetGateway": "no charge (data transfer is usage)", "AWS::EC2::VPCGatewayAttachment": "no charge",
    "AWS::EC2::SecurityGroup": "no charge", "AWS::EC2::SecurityGroupIngress": "no charge",
    "AWS::EC2::SecurityGroupEgress": "no charge", "AWS::EC2::LaunchTemplate": "no charge",
    "AWS::EC2::FlowLog": "billed as log ingestion (the log ingestion line)",
    "AWS::IAM::Role": "no charge", "AWS::IAM::ManagedPolicy": "no charge", "AWS::IAM::Policy": "no charge",
    "AWS::IAM::InstanceProfile": "no charge",
    "AWS::RDS::DBSubnetGroup": "no charge", "AWS::RDS::DBParameterGroup": "no charge",
    "AWS::RDS::DBClusterParameterGroup": "no charge", "AWS::RDS::OptionGroup": "no charge",
    "AWS::ElastiCache::SubnetGroup": "no charge", "AWS::ElastiCache::ParameterGroup": "no charge",
    "AWS::ElastiCache::User": "no charge", "AWS::ElastiCache::UserGroup": "no charge",
    "AWS::SNS::TopicPolicy": "no charge", "AWS::SecretsManager::ResourcePolicy": "no charge",
    "AWS::SecretsManager::RotationSchedule": "no charge (the rotation function is its own line)",
    "AWS::SecretsManager::SecretTargetAttachment": "no charge", "AWS::Lambda::Permission": "no charge",
    "AWS::Logs::ResourcePolicy": "no charge", "AWS::KMS::Alias": "no charge",
    "AWS::Backup::BackupPlan": "no charge (its recovery points are the vault's)",
    "AWS::Backup::BackupSelection": "no charge",
    "AWS::ApplicationAutoScaling::ScalableTarget": "no charge", "AWS::ApplicationAutoScaling::ScalingPolicy":
        "no charge",
    "Custom::VpcRestrictDefaultSG": "a one-off call of a CDK provider Lambda at deploy time",
    "AWS::RDS::EventSubscription": "no charge (its notifications are SNS deliveries)",
    "AWS::SNS::Subscription": "no charge (deliveries are billed per message: usage)",
    "AWS::SSM::Association": "no charge for EC2 instances (State Manager, Patch Manager)",
    "AWS::SSM::Document": "no charge",
}


def category(resource_type: str) -> str:
    if resource_type in PRICED:
        return "priced"
    if resource_type in NOT_PRICED:
        return "not priced"
    if resource_type in FREE:
        return "free"
    return "unknown"
