"""How many bots one machine runs at once.

The default comes from what a bot was measured to cost on the 2-core, 24 GiB
reference machine (`unmixed bench`): ten bots with three speakers each fill
two cores, and a bot's resident memory is about 133 MiB. So: five bots a
core, 150 MiB each, whichever runs out first. `UNMIXED_BOT_SLOTS` overrides it.
"""

import os
from datetime import timedelta

import psutil

BOTS_PER_CORE = 5
BOT_MEMORY_BYTES = 150 * 2**20

AD_HOC = timedelta(minutes=10)
"""A bot due to join sooner than this is ad hoc, as at Recall: it holds a bot slot from
when it is made, so a near `join_at` is no way around the slot limit."""

RETRY_AFTER_SECONDS = 30
"""What a client that found no free slot is told to wait, as Recall tells it."""


def default_bot_slots() -> int:
    cores = len(os.sched_getaffinity(0))
    by_memory = psutil.virtual_memory().total // BOT_MEMORY_BYTES
    return max(1, min(cores * BOTS_PER_CORE, by_memory))
