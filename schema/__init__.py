"""The SQL migrations, applied in name order: package data, ``services.schema`` once installed."""
