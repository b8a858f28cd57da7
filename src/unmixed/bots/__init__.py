"""Bots: the process that attends one meeting, and the dispatcher that starts it.

The bot runner is the one place where a platform adapter, the media path and
delivery meet; everything else keeps to its own layer.
"""
