"""`python -m app_code cost`: the estimated monthly cost of an environment, read from its synthesized templates.

JSON only (no aws_cdk): templates -> usage lines (usage.py) -> priced rows (estimate.py) with prices from the
dated sheet shipped here (prices.json, sheet.py) or from the AWS Price List API (live.py).
"""
