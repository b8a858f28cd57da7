"""Bots: the process that attends one meeting, the scheduler and launchers that start it.

The bot runner is the one place where a platform adapter, the media path and
delivery meet; everything else keeps to its own layer.
"""
