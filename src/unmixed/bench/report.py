"""The bench's tables: what was measured, in the units the issue's targets use."""

import psutil
from rich.table import Table

from unmixed.bench.fleet import FleetFigures
from unmixed.bench.floor import Floor
from unmixed.bench.latency import percentile
from unmixed.bench.lost import StreamLoss
from unmixed.bench.pipeline import PipelineFigures, StreamCount
from unmixed.bench.single import Figures
from unmixed.bench.transcribe import SENTENCE_EVERY, TranscribeFigures, TranscribeRun
from unmixed.wire.realtime import SAMPLE_RATE

TIMES = "\N{MULTIPLICATION SIGN}"


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def _seconds(value: float) -> str:
    return f"{value:.1f} s"


def _core(percent: float) -> str:
    return f"{percent:.1f} % of one core"


def _mib(size: float) -> str:
    return f"{size / 2**20:.0f} MiB"


def _floor(floor: Floor) -> str:
    return f"{floor.percent_per_stream:.2f} % of one core"


def _times_floor(per_stream: float, floor: Floor) -> str:
    return f"{per_stream / floor.percent_per_stream:.1f} {TIMES} floor"


def single_report(seconds: float, runs: dict[str, Figures]) -> Table:
    """One column per way of attending (native, browser), one row per measure."""
    table = Table(title=f"unmixed bench: {seconds:.0f} s of speech on {psutil.cpu_count()} cores")
    table.add_column("measure")
    for name in runs:
        table.add_column(name, justify="right")
    rows: dict[str, list[str]] = {}

    def row(label: str, value: str) -> None:
        rows.setdefault(label, []).append(value)

    for figures in runs.values():
        watch = figures.watch
        per_stream = watch.cpu_percent / figures.participants
        row("speaking participants", str(figures.participants))
        row("latency p50, participant -> receiver", _ms(percentile(figures.latencies, 0.5)))
        row("latency p95", _ms(percentile(figures.latencies, 0.95)))
        row("latency p99", _ms(percentile(figures.latencies, 0.99)))
        row("beep onsets measured", str(len(figures.latencies)))
        row("bot CPU, all streams", _core(watch.cpu_percent))
        row("bot CPU per stream", f"{per_stream:.2f} % of one core")
        row("floor per stream (decode to 16 kHz, JSON)", _floor(figures.floor))
        row(f"bot CPU per stream, {TIMES} floor", _times_floor(per_stream, figures.floor))
        row("bot processes", str(watch.processes))
        row("bot memory, PSS summed, peak", _mib(watch.peak_pss))
        row("bot memory, RSS summed, peak", _mib(watch.peak_rss))
        row("unmute -> first message p50", _ms(percentile(figures.unmute_delays, 0.5)))
        row("unmute -> first message max", _ms(max(figures.unmute_delays, default=float("nan"))))
        row("unmutes measured", str(len(figures.unmute_delays)))
    for label, values in rows.items():
        table.add_row(label, *values)
    return table


Rows = list[tuple[str, str]]


def fleet_report(seconds: float, figures: FleetFigures) -> Table:
    """One row per measure of the fleet run; `mean / max` over bots where both matter."""
    cores = psutil.cpu_count() or 1
    table = Table(
        title=f"unmixed bench: {len(figures.startups)} bots, {figures.speakers} speakers, "
        f"{seconds:.0f} s of speech on {cores} cores"
    )
    table.add_column("measure")
    table.add_column(f"native bots, {figures.ending.launcher} launcher", justify="right")
    for label, value in [
        *_startup_rows(figures),
        *_cost_rows(figures, cores),
        *_timing_rows(figures),
        *_loss_rows(figures),
        *_ending_rows(figures),
    ]:
        table.add_row(label, value)
    return table


def _startup_rows(figures: FleetFigures) -> Rows:
    startup = [s.seconds for s in figures.startups if s.seconds is not None]
    return [
        ("bots recording", _recording(figures)),
        (f"streams (bots {TIMES} speakers)", str(len(figures.losses))),
        (
            "create -> in_call_recording p50 (API's status times)",
            _seconds(percentile(startup, 0.5)),
        ),
        ("create -> in_call_recording max", _seconds(max(startup, default=float("nan")))),
    ]


def _recording(figures: FleetFigures) -> str:
    """How many bots got to record, and whether each one's process was found to watch."""
    counted = f"{len(figures.recording)} of {len(figures.startups)}"
    if len(figures.watches) == len(figures.recording):
        return counted
    return f"{counted} ({len(figures.watches)} of their processes found)"


def _cost_rows(figures: FleetFigures, cores: int) -> Rows:
    watches = figures.watches.values()
    cpu = [watch.cpu_percent for watch in watches]
    rss = [watch.peak_rss for watch in watches]
    pss = [watch.peak_pss for watch in watches]
    per_stream = _mean(cpu) / figures.speakers
    machine = figures.machine_cpu_percent * cores
    known = sum(cpu) + figures.janus_cpu_percent + figures.own_cpu_percent
    other = max(0.0, machine - known)  # each is sampled apart: they can overshoot a little
    return [
        (
            "bot CPU, mean / max over bots",
            f"{_mean(cpu):.1f} / {max(cpu, default=0):.1f} % of one core",
        ),
        ("bot CPU per stream (mean bot)", f"{per_stream:.2f} % of one core"),
        ("floor per stream (decode to 16 kHz, JSON)", _floor(figures.floor)),
        (f"bot CPU per stream, {TIMES} floor", _times_floor(per_stream, figures.floor)),
        ("bot RSS peak, mean / max over bots", f"{_mib(_mean(rss))} / {_mib(max(rss, default=0))}"),
        ("bot PSS peak, mean / max over bots", f"{_mib(_mean(pss))} / {_mib(max(pss, default=0))}"),
        (
            "machine CPU, all cores",
            f"{figures.machine_cpu_percent:.0f} % of {cores} cores ({machine:.0f} % of one)",
        ),
        ("  of which the bots", _core(sum(cpu))),
        ("  of which Janus", _core(figures.janus_cpu_percent)),
        ("  of which the speakers, API and receiver", _core(figures.own_cpu_percent)),
        ("  of which anything else", _core(other)),
    ]


def _timing_rows(figures: FleetFigures) -> Rows:
    return [
        ("latency p50, participant -> receiver", _ms(percentile(figures.latencies, 0.5))),
        ("latency p95", _ms(percentile(figures.latencies, 0.95))),
        ("beep onsets measured", str(len(figures.latencies))),
        ("publish -> first message p50 / max", _p50_max(figures.publish_delays)),
        ("unmute -> first message p50 / max", _p50_max(figures.unmute_delays)),
        ("bot's timestamps behind the moment sent p50 / max", _p50_max(figures.timestamp_offsets)),
    ]


def _loss_rows(figures: FleetFigures) -> Rows:
    tallies = [loss.tally for loss in figures.losses]
    expected = sum(t.expected for t in tallies)
    return [
        ("samples expected while speaking", f"{expected} ({expected / SAMPLE_RATE:.0f} s)"),
        ("samples lost, total", _samples(sum(max(0, t.lost) for t in tallies))),
        ("  of which inside a connection", _samples(sum(t.lost_inside for t in tallies))),
        ("samples lost, worst stream", _worst(figures.losses)),
        ("streams that lost samples", str(sum(1 for t in tallies if t.lost > 0))),
    ]


def _mean(values: list[float] | list[int]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _p50_max(values: list[float]) -> str:
    return f"{_ms(percentile(values, 0.5))} / {_ms(max(values, default=float('nan')))}"


def _samples(count: int) -> str:
    return f"{count} ({_ms(count / SAMPLE_RATE)})"


def _worst(losses: list[StreamLoss]) -> str:
    worst = max(losses, key=lambda loss: loss.tally.lost, default=None)
    if worst is None or worst.tally.lost <= 0:
        return "0"
    return f"{_samples(worst.tally.lost)}: bot {worst.bot_id[:8]}, {worst.participant}"


def pipeline_report(seconds: float, figures: PipelineFigures) -> Table:
    """The bot's cost per stream next to the floor, and each stream's samples."""
    watch = figures.watch
    per_stream = watch.cpu_percent / figures.participants
    table = Table(
        title=f"unmixed bench --pipeline (no WebRTC): {figures.participants} participants, "
        f"{seconds:.0f} s on {psutil.cpu_count()} cores"
    )
    table.add_column("measure")
    table.add_column("runner, media, delivery", justify="right")
    for label, value in [
        ("bot CPU, all streams", _core(watch.cpu_percent)),
        ("bot CPU per stream", f"{per_stream:.2f} % of one core"),
        ("floor per stream (decode to 16 kHz, JSON)", _floor(figures.floor)),
        (f"bot CPU per stream, {TIMES} floor", _times_floor(per_stream, figures.floor)),
        ("bot RSS peak", _mib(watch.peak_rss)),
        ("bot PSS peak", _mib(watch.peak_pss)),
        ("the bench and its receiver", _core(figures.own_cpu_percent)),
        *[(f"samples received, {stream.name}", _received(stream)) for stream in figures.streams],
    ]:
        table.add_row(label, value)
    return table


def _received(stream: StreamCount) -> str:
    """`received of expected`, and what went wrong if anything did."""
    faults = [f"{stream.lost} lost"] if stream.lost else []
    if stream.connections != 1:
        faults.append(f"{stream.connections} connections")
    if stream.gaps:
        faults.append(f"{stream.gaps} gaps")
    return f"{stream.received} of {stream.expected}" + "".join(f"; {fault}" for fault in faults)


def _ending_rows(figures: FleetFigures) -> Rows:
    ending = figures.ending
    rows = [
        (
            f"leave_call -> call_ended p50 / max ({len(ending.leave_seconds)} bots)",
            _p50_max(ending.leave_seconds),
        )
    ]
    if ending.lost_seconds:
        rows.append(
            (
                f"worker killed -> fatal/bot_process_lost p50 / max ({len(ending.lost_seconds)})",
                f"{_seconds(percentile(ending.lost_seconds, 0.5))} / "
                f"{_seconds(max(ending.lost_seconds))}",
            )
        )
    return rows


def transcribe_report(seconds: float, figures: TranscribeFigures) -> Table:
    """One column per run (without a transcript, with one), one row per measure; what
    only a transcript has is "-" in the run without one."""
    participants = len(figures.script)
    table = Table(
        title=f"unmixed bench --transcribe: {participants} speakers, a sentence each every "
        f"{SENTENCE_EVERY:.0f} s, {seconds:.0f} s on {psutil.cpu_count()} cores"
    )
    table.add_column("measure")
    said = sum(len(lines) for lines in figures.script.values())
    columns = []
    for label, run in figures.runs.items():
        table.add_column(label, justify="right")
        columns.append(dict(_transcribe_rows(run, participants, said)))
    for measure in dict.fromkeys(measure for column in columns for measure in column):
        table.add_row(measure, *(column.get(measure, "-") for column in columns))
    return table


def _transcribe_rows(run: TranscribeRun, participants: int, said: int) -> Rows:
    watch = run.watch
    rows = [
        ("sentences said (voiced spans received)", f"{said} ({run.sentences})"),
        ("bot CPU, all streams", _core(watch.cpu_percent)),
        (
            "bot CPU per speaking participant",
            f"{watch.cpu_percent / participants:.2f} % of one core",
        ),
        ("bot RSS peak", _mib(watch.peak_rss)),
        ("bot PSS peak", _mib(watch.peak_pss)),
        (
            "audio held up beyond its stream's quickest, p50 / p95 / max",
            f"{_ms(percentile(run.audio_holdups, 0.5))} / "
            f"{_ms(percentile(run.audio_holdups, 0.95))} / "
            f"{_ms(max(run.audio_holdups, default=float('nan')))}",
        ),
    ]
    if run.heard is None:
        return rows
    times = [participant.times for participant in run.heard.values()]
    latencies = [latency for t in times for latency in t.latencies]
    return [
        *rows,
        (
            "end of speech -> final text p50 / p95 / max",
            f"{_ms(percentile(latencies, 0.5))} / {_ms(percentile(latencies, 0.95))} / "
            f"{_ms(max(latencies, default=float('nan')))}",
        ),
        ("finals received", str(sum(p.finals for p in run.heard.values()))),
        ("sentences with no final", str(sum(t.unheard for t in times))),
        ("finals off any sentence", str(sum(t.strays for t in times))),
        *[
            (f"WER, {name} ({participant.voice})", f"{participant.wer:.0%}")
            for name, participant in run.heard.items()
        ],
    ]
