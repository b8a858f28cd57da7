"""How a bot process tells the dispatcher how it ended, beyond its status in the store.

Its own module, so that the bot process, which reports these, need not import
the dispatcher (and what the dispatcher needs) to know them.
"""

ALREADY_CLAIMED_EXIT_CODE = 3
"""A bot process exits with this when another process had already started that bot."""

BOT_ERRORED_MESSAGE = "the bot stopped after an unexpected error; the server log has details"
