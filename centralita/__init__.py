"""centralita."""
