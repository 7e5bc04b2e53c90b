"""voice/sip."""
