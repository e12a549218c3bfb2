"""Benchmarks: every hot path against its limit and its peers, side by side in one run.

``python -m bench`` runs every scenario; ``python -m bench SCENARIO`` runs one. Each
figure is a ratio to a baseline measured in the same run, on the same servers, with the
same concurrency, because these machines are shared and noisy.
"""
