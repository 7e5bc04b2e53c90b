"""Fuzz harnesses for every parser that reads bytes from outside (see `targets.py`, `run.py`)."""
