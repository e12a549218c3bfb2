"""The `verdicts` command: one module per group of operator commands."""
