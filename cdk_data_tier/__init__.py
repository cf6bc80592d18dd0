"""cdk-data-tier, installed under one name so that no generic top-level module (`stacks`, ...) lands in
site-packages: `cdk_data_tier.constructs` (reusable constructs), `cdk_data_tier.stacks` (the stacks and their
config) and `cdk_data_tier.app` (app_code: workloads, ops, drills and the local twin).

In the repository these are the folders cdk_constructs/, stacks/ and app_code/ (this folder links to them), and
the wheel maps the same folders under this package."""

__version__ = "0.3.0"
