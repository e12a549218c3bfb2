"""Jinja templates (email/, web/): package data, ``services.templates`` once installed."""
