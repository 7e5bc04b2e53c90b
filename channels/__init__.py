"""Text channels: SMS and WhatsApp through Twilio, email, web chat (see `channels.base`)."""
