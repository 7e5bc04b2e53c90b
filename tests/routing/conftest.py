"""Fixtures of the routing tests: the ACD rig (`tests/routing/acd_rig.py`)."""

from tests.routing.acd_rig import make_rig

__all__ = ["make_rig"]
