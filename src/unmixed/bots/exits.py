"""How a bot process tells its launcher how it ended, beyond its status in the store.

Its own module, so that the bot process, which reports these, need not import
a launcher (and what a launcher needs) to know them.
"""

ALREADY_CLAIMED_EXIT_CODE = 3
"""A bot process exits with this when another process had already started that bot."""

BOT_ERRORED_MESSAGE = "the bot stopped after an unexpected error; the server log has details"
