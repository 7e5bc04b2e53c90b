"""Review of recorded calls: the page (player with waveform, synced transcript, paused spans,
QA reviews), transcript search, and their API (`web.review.api`)."""

from web.review.api import ReviewApi, add_review_routes

__all__ = ["ReviewApi", "add_review_routes"]
