"""Launchers: where bot processes run (`local`, `celery`, `kubernetes`).

Only the one configured is imported: Celery and the Kubernetes client are
optional extras, and the API never loads what it does not use.
"""

from unmixed.bots.launchers.base import BotJob, CapacityUnknown, Launcher, LaunchFailed
from unmixed.settings import Settings
from unmixed.store import Bots
from unmixed.store.leases import Leases

__all__ = ["BotJob", "CapacityUnknown", "LaunchFailed", "Launcher", "open_launcher"]


def open_launcher(settings: Settings, bots: Bots, leases: Leases) -> Launcher:
    """The configured launcher; made in the API's event loop."""
    if settings.launcher == "celery":
        from unmixed.bots.launchers.celery import CeleryLauncher

        return CeleryLauncher(settings)
    if settings.launcher == "kubernetes":
        from unmixed.bots.launchers.kubernetes import KubernetesLauncher

        return KubernetesLauncher(settings)
    from unmixed.bots.launchers.local import LocalLauncher

    return LocalLauncher(bots, leases, settings)
