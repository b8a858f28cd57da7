"""The one source of truth for everything unmixed puts on the wire.

The API validates requests and renders bots with these models, the bot builds
its realtime messages with them, and the receiver validates what it gets with
the very same classes, so the three can never disagree about the format.
"""
