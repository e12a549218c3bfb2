"""`python -m services.cli`: the `verdicts` command."""

from .main import main

main()
