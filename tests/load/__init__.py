"""Load, held and checked: readers voting, changing votes, bookmarking and subscribing
over HTTP against real uvicorn workers for a set time, each keeping a ledger of what
the server acknowledged, then held against the event log and ``verdicts verify``.

``test_load.py`` runs it for 10 seconds in the default suite;
``python -m tests.load --workers 2 --duration 600`` runs it for as long as you like.
"""
