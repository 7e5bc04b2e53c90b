"""RFC 4475 (SIP torture test messages) as test fixtures: see `messages.py`."""
