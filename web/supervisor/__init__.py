"""The supervisor's page: live wallboard (snapshot then deltas), calls in progress with their
transcript, listen / whisper / barge over WebRTC, and historical figures (`web.supervisor.api`)."""
