"""Live transcripts of each participant's own audio, by a local Whisper model.

`models` finds and checks the model a bot asked for; `utterances` cuts a
participant's audio into what Whisper should hear; `engine` runs the model on a
thread of its own, so the bot's audio never waits for it.
"""
