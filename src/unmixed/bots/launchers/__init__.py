"""Launchers: where bot processes run (`local`, `celery`, `kubernetes`)."""

from unmixed.bots.launchers.base import BotJob, Launcher, LaunchFailed

__all__ = ["BotJob", "LaunchFailed", "Launcher"]
