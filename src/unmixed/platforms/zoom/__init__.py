"""The Zoom platform, through the Zoom Meeting SDK's Python bindings (`zoom-meeting-sdk`).

Importing this package does not load the SDK (a 200 MB native library): the
adapter imports it when it is built, so a server without the `zoom` extra
only fails for Zoom bots, with a clear message.
"""

from unmixed.platforms.zoom.adapter import ZoomAdapter
from unmixed.platforms.zoom.credentials import ZoomCredentials

__all__ = ["ZoomAdapter", "ZoomCredentials"]
