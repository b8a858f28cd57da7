"""`unmixed bench`: how fast and how cheap the bot is, measured end to end on the testbed.

Each participant beeps once a second (a different pitch each, onsets staggered)
and mutes once. The default run sends one native bot to a meeting of N speakers,
then one browser bot to the same meeting's web page, and prints them side by
side; `--bots N` sends N native bots to one meeting at once instead (run by the
API's processes, or with `--launcher celery` by a Celery worker), and
`--pipeline` feeds one bot process the speakers' Opus with no meeting at all, for
what media and delivery alone cost. Either way the floor (`floor.py`) is
measured first, in the same run, and the bot's cost per stream is printed as a
multiple of it. `--transcribe` has the speakers say sentences instead of beeping,
and sends one bot twice, without a transcript and with one, for what live
transcription adds (`transcribe.py`).

Each run's modules are imported when it starts, not here: the pipeline's bot
process imports its adapter from this package, and must load no more than a bot.
"""

from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from unmixed.bench.fleet import Launcher


async def run_bench(
    participants: int, seconds: float, console: Console, *, browser_speakers: int
) -> None:
    """The native testbed adapter with `participants` speakers, then (unless
    `browser_speakers` is 0) the browser bot on the testbed's web page."""
    from unmixed.bench.report import single_report
    from unmixed.bench.single import Figures, measure_single

    runs: dict[str, Figures] = {
        "native (aiortc)": await measure_single(participants, seconds, through_browser=False)
    }
    if browser_speakers:
        runs["browser (Chromium)"] = await measure_single(
            browser_speakers, seconds, through_browser=True
        )
    console.print(single_report(seconds, runs))


async def run_fleet_bench(
    bots: int, speakers: int, seconds: float, console: Console, launcher: "Launcher" = "local"
) -> None:
    """`bots` native bots created at once in one meeting of `speakers` speakers, run by
    the API's own processes or (`celery`) by a worker with as many slots."""
    from unmixed.bench.fleet import measure_fleet
    from unmixed.bench.report import fleet_report

    figures = await measure_fleet(bots, speakers, seconds, launcher)
    console.print(fleet_report(seconds, figures))


async def run_pipeline_bench(participants: int, seconds: float, console: Console) -> None:
    """One bot process fed `participants` speakers' Opus at real rate, with no WebRTC."""
    from unmixed.bench.pipeline import measure_pipeline
    from unmixed.bench.report import pipeline_report

    console.print(pipeline_report(seconds, await measure_pipeline(participants, seconds)))


async def run_transcribe_bench(participants: int, seconds: float, console: Console) -> None:
    """One bot in a meeting of `participants` people saying sentences, without a
    transcript and then with one."""
    from unmixed.bench.report import transcribe_report
    from unmixed.bench.transcribe import measure_transcribe

    console.print(transcribe_report(seconds, await measure_transcribe(participants, seconds)))
