"""Audio codecs: G.711 here; Opus comes through aiortc/PyAV."""
