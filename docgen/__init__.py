"""Generators of the docs that must follow the code: docs/reference.md and the architecture pictures.

A package of its own, outside app_code (which never imports aws_cdk) and outside the distribution: the
reference imports stacks/ and cdk_constructs/ to read their models and signatures, and both generators
read the synthesized cloud assembly.
"""
