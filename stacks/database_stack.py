"""`<env>-Database`: RDS PostgreSQL/MySQL with replicas, or an Aurora cluster, in the isolated subnets."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from cdk_data_tier.constructs.alarm_topic import AlarmTopic
from cdk_data_tier.constructs.aurora_database import AuroraDatabase
from cdk_data_tier.constructs.backup_plan import BackupPlan
from cdk_data_tier.constructs.database_alarms import AlarmThresholds
from cdk_data_tier.constructs.database_engine import (
    FLAVORS,
    audit_parameters,
    cluster_engine,
    engine_parameters,
    instance_engine,
)
from cdk_data_tier.constructs.database_events import DatabaseEvents
from cdk_data_tier.constructs.local_grantee import LocalGrantee
from cdk_data_tier.constructs.log_retention import retention_days
from cdk_data_tier.constructs.private_rotation import PrivateRotation
from cdk_data_tier.constructs.replicated_database import Backups, Observability, ReplicatedDatabase
from cdk_data_tier.constructs.secret_access import grant_secret_read
from cdk_data_tier.stacks.config import EnvConfig
from cdk_data_tier.stacks.database_config import DatabaseConfig
from cdk_data_tier.stacks.network_stack import NetworkStack

_REMOVAL = {"destroy": RemovalPolicy.DESTROY, "snapshot": RemovalPolicy.SNAPSHOT}


def _pi_retention(days: int) -> rds.PerformanceInsightRetention:
    if days == 7:
        return rds.PerformanceInsightRetention.DEFAULT
    if days == 731:
        return rds.PerformanceInsightRetention.LONG_TERM
    return rds.PerformanceInsightRetention[f"MONTHS_{days // 31}"]


class DatabaseStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, network: NetworkStack,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cfg = config.database
        flavor = FLAVORS[cfg.engine]
        # EnvConfig has resolved both from the environment's removal unless the config set them.
        assert cfg.removal is not None and cfg.deletion_protection is not None
        removal = _REMOVAL[cfg.removal]
        # A final snapshot stays encrypted with the data key and restores with the secret's password, so both
        # (and the logs of what happened before) outlive the database.
        keep = RemovalPolicy.DESTROY if removal == RemovalPolicy.DESTROY else RemovalPolicy.RETAIN
        identifier = self.stack_name.lower()
        vpc = network.vpc

        self.key = kms.Key(self, "DataKey", description=f"Encrypts {identifier}: storage, Performance Insights, "
                           "credentials", enable_key_rotation=True, removal_policy=keep)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description=f"{identifier}: the database port from the bastion and the app host only")
        port = ec2.Port.tcp(cfg.port)
        # Connections add the hosts' egress too; CDK puts those rules in this stack, next to the group they name.
        self.security_group.connections.allow_from(network.bastion_security_group, port,
                                                   "Bastion (SSM port forwarding)")
        self.security_group.connections.allow_from(network.app_security_group, port, "App host (app_code)")
        subnet_group = rds.SubnetGroup(self, "SubnetGroup", vpc=vpc, vpc_subnets=network.data_subnets,
                                       description=f"{identifier}: isolated subnets")
        self.secret = rds.DatabaseSecret(self, "Secret", username=cfg.admin_username, dbname=cfg.database_name,
                                         encryption_key=self.key)
        self.secret.apply_removal_policy(keep)
        # app_code's own login, never the admin's: rotated multi-user, with the admin secret as its master.
        self.app_secret = rds.DatabaseSecret(self, "AppSecret", username=cfg.app_username, dbname=cfg.database_name,
                                             encryption_key=self.key, master_secret=self.secret)
        self.app_secret.apply_removal_policy(keep)
        credentials = rds.Credentials.from_secret(self.secret, cfg.admin_username)
        topic = AlarmTopic(self, "Alarms", description=identifier, emails=config.notifications.emails,
                           https_urls=config.notifications.https_urls) if cfg.alarm_topic else None
        thresholds = AlarmThresholds(**cfg.alarms.model_dump())
        backups = Backups(retention=Duration.days(cfg.backup_retention_days), window=cfg.backup_window,
                          maintenance_window=cfg.maintenance_window)
        observability = Observability(
            log_exports=flavor.log_exports, log_retention=retention_days(cfg.log_retention_days),
            monitoring_interval=Duration.seconds(cfg.monitoring_interval_seconds),
            performance_insight_retention=_pi_retention(cfg.performance_insights_retention_days))
        parameters = {**engine_parameters(cfg.engine, slow_query_ms=cfg.slow_query_ms), **audit_parameters(cfg.engine)}
        common: dict[str, Any] = dict(
            identifier=identifier, instance_type=ec2.InstanceType(cfg.instance_class.removeprefix("db.")), vpc=vpc,
            subnet_group=subnet_group, security_group=self.security_group, port=cfg.port, credentials=credentials,
            database_name=cfg.database_name, key=self.key, parameters=parameters, backups=backups,
            observability=observability, deletion_protection=cfg.deletion_protection, removal_policy=removal,
            alarm_thresholds=thresholds, alarm_topic=topic)

        if flavor.aurora:
            self.database: ReplicatedDatabase | AuroraDatabase = AuroraDatabase(
                self, "Aurora", engine=cluster_engine(cfg.engine, cfg.engine_version), readers=cfg.read_replicas,
                backtrack_window=Duration.hours(24) if cfg.engine == "aurora-mysql" else None, **common)
            target: rds.DatabaseInstance | rds.DatabaseCluster = self.database.cluster
            backup_resources = [backup.BackupResource.from_rds_database_cluster(self.database.cluster)]
        else:
            engine = instance_engine(cfg.engine, cfg.engine_version)
            self.database = ReplicatedDatabase(
                self, "Instance", engine=engine, allocated_storage_gib=cfg.storage_gib,
                max_allocated_storage_gib=cfg.max_storage_gib, multi_az=bool(cfg.multi_az),
                read_replicas=cfg.read_replicas, option_group=_audit_options(self, cfg, engine), **common)
            target = self.database.writer
            backup_resources = [backup.BackupResource.from_rds_database_instance(self.database.writer)]

        # Attached, the secret carries the endpoint too, as the multi-user rotation needs.
        app_secret = self.app_secret.attach(target)
        if topic is not None:
            DatabaseEvents(self, "Events", topic=topic, instance_identifiers=self.database.instance_identifiers,
                           cluster_identifier=identifier if flavor.aurora else None, database=self.database)
        self.rotation = PrivateRotation(
            self, "Rotation", target=target, port=cfg.port, vpc=vpc, subnets=network.data_subnets,
            every=Duration.days(cfg.secret_rotation_days), log_retention=retention_days(cfg.log_retention_days),
            removal_policy=keep, user_secrets={"AppUserRotation": app_secret})
        if cfg.backup_plan_retention_days:
            assert config.database_backup_plan_hour is not None  # EnvConfig refuses a plan without a clear hour
            BackupPlan(self, "BackupPlan", resources=backup_resources, description=identifier,
                       retention=Duration.days(cfg.backup_plan_retention_days),
                       start_hour_utc=config.database_backup_plan_hour, selection_name="Database")
        self.database.acknowledge_backup_plan(in_plan=bool(cfg.backup_plan_retention_days))

        grantee = LocalGrantee(self, "AppHostAccess", role=network.app_role,
                               description="app_code's database access: the app user's secret, and IAM login as "
                               "the IAM user")
        grant_secret_read(grantee, self.app_secret, self.key)
        self.database.grant_connect(grantee, cfg.iam_auth_user)
        # The bootstrap logs in as the admin to create the app and IAM users: from the bastion, nowhere else.
        bootstrap = LocalGrantee(self, "BootstrapAccess", role=network.bastion_role,
                                 description="One-time bootstrap from the bastion: the admin and app user secrets")
        grant_secret_read(bootstrap, self.secret, self.key)
        grant_secret_read(bootstrap, self.app_secret, self.key)

        CfnOutput(self, "WriterEndpoint", value=self.database.writer_endpoint.hostname,
                  description="Writer host")
        if self.database.reader_hosts:
            # CloudFormation rejects an empty output value, so no readers means no ReaderEndpoints output.
            CfnOutput(self, "ReaderEndpoints", value=",".join(self.database.reader_hosts),
                      description="Read replica hosts (or the Aurora reader endpoint), comma-separated")
        CfnOutput(self, "Port", value=str(cfg.port), description="Port of every endpoint")
        CfnOutput(self, "SecretArn", value=self.secret.secret_arn,
                  description="Admin secret (rotation and bootstrap only): {host, port, username, password, dbname, "
                  "engine}")
        CfnOutput(self, "AppSecretArn", value=self.app_secret.secret_arn,
                  description="App user secret (app_code): {host, port, username, password, dbname, engine, masterarn}")
        CfnOutput(self, "IamAuthUser", value=cfg.iam_auth_user,
                  description="Database user that IAM authentication admits (created by the bootstrap)")
        CfnOutput(self, "Engine", value=cfg.engine)
        CfnOutput(self, "DatabaseName", value=cfg.database_name)


def _audit_options(scope: Construct, cfg: DatabaseConfig, engine: rds.IInstanceEngine) -> rds.IOptionGroup | None:
    """RDS for MySQL writes its audit log through the MariaDB audit plugin, an option rather than a parameter."""
    if cfg.engine != "mysql":
        return None
    return rds.OptionGroup(scope, "AuditOptions", engine=engine, description="MariaDB audit plugin: connections, "
                           "DDL, DCL", configurations=[rds.OptionConfiguration(
                               name="MARIADB_AUDIT_PLUGIN",
                               settings={"SERVER_AUDIT_EVENTS": "CONNECT,QUERY_DDL,QUERY_DCL"})])
