"""The data tier's stacks and their config (cdk.json's `environments`), composed from cdk_data_tier.constructs."""

from cdk_data_tier.node_runtime import prefer_interpreter_node

# Before any stack module imports aws_cdk, as in cdk_data_tier.constructs.
prefer_interpreter_node()
