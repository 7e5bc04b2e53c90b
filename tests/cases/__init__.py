"""Tests of the shared case: store, migrations, event bus, web API."""
