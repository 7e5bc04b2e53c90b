"""The media side of IVR verbs: speech synthesis, prompts with barge-in, DTMF collection,
phrase matching, listening for speech and recording voicemail."""
