"""`python -m ivr.schema` regenerates flow.schema.json."""

from ivr.schema import main

main()
