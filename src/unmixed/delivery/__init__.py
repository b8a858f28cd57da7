"""Delivery: getting messages to the client's receivers, whatever state those are in.

Nothing here knows about meeting platforms: it takes wire-format participants
and 16 kHz chunks and owns every websocket, buffer and retry.
"""
