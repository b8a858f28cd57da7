"""unmixed: a self-hosted meeting bot that streams each participant's audio separately.

The HTTP API and the realtime messages follow Recall.ai's public API (v1), so a
client written for Recall's "separate audio per participant" feature works
against unmixed by changing the base URL and the key.
"""

__version__ = "0.1.0"
