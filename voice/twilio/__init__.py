"""Twilio Voice on the same pipeline: Media Streams as a leg (`leg.TwilioStreamLeg`), the
protocol's messages (`protocol`), one-time stream tokens (`tokens`) and the sessions that
turn a socket into a Call run by the server's one call handler (`stream`)."""
