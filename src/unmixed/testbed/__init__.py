"""The testbed: a real WebRTC meeting on this machine, for tests, the demo and the benchmark.

Janus (the SFU) runs on loopback as a child process, synthetic participants
publish audio into one of its VideoRoom rooms with aiortc, and a scenario file
says who joins, speaks, mutes and leaves when. The bot's side of a testbed
meeting is `unmixed.platforms.testbed`.
"""
