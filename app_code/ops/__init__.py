"""Operations on an environment (DESIGN.md, "Operating the data tier"): backups, restores and teardown
verification, one module per job; `commands` prints what they found or made for the CLI."""
