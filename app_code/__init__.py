"""Runtime package: endpoints contract, workloads, ops tools, CLI and the local twin. Never imports aws_cdk."""
