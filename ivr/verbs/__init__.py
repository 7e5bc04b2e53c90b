"""IVR verbs, one module each; importing `ivr.verbs.all` registers every verb."""
