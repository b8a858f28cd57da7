// The capture script, run in every frame before any page script (inside the
// closure that capture.py wraps it in, beside roster.js's watchRoster; nothing
// of it is reachable from the page but the wrapped RTCPeerConnection).
//
// It wraps RTCPeerConnection so that every remote audio track the page receives
// is tapped without the page's help: a MediaStreamTrackProcessor reads its
// decoded frames, and a muted <audio> element plays it, because Chromium does
// not decode remote audio that nothing plays. PCM goes to the bot as binary
// websocket messages of about CONFIG.batchMs each (Playwright's driver sees a
// copy of every websocket message, so fewer, larger ones cost far less); what
// identifies each track, its lifecycle and the roster go as JSON text.
//
// Binary message: a little-endian header, then `samples` signed 16-bit mono PCM.
//   u8 version, u8 reserved, u16 track, u32 sample_rate, u32 samples,
//   f64 media_time_us (AudioData.timestamp of the first sample),
//   u32 contributing_source (CSRC heard during the batch; 0: none), u32 ssrc (0: unknown)
if (!window.__unmixedCapture) {
  Object.defineProperty(window, '__unmixedCapture', {value: true});
  const CONFIG = __UNMIXED_CAPTURE_CONFIG__;
  const HEADER_BYTES = 28;
  const NativePeerConnection = window.RTCPeerConnection;
  const NativeWebSocket = window.WebSocket;

  let socket = null;
  const backlog = [];
  function send(message) {
    if (socket === null) {
      socket = new NativeWebSocket(CONFIG.url);
      socket.binaryType = 'arraybuffer';
      socket.onopen = () => { while (backlog.length) socket.send(backlog.shift()); };
      socket.onclose = () => { socket = null; };
    }
    if (socket.readyState === NativeWebSocket.OPEN) socket.send(message);
    else if (socket.readyState === NativeWebSocket.CONNECTING && backlog.length < 100) backlog.push(message);
  }
  const signal = (fields) => send(JSON.stringify(fields));

  function latestSource(sources, since) {
    let latest = null;
    for (const source of sources) {
      if (source.timestamp >= since && (latest === null || source.timestamp > latest.timestamp)) latest = source;
    }
    return latest;
  }

  class Batch {
    constructor(track, receiver) {
      this.track = track;
      this.receiver = receiver;
      this.parts = [];
      this.samples = 0;
      this.firstTimestamp = 0;
      this.startedAt = 0;
    }
    add(audioData) {
      const frames = audioData.numberOfFrames;
      const part = new Float32Array(frames);
      audioData.copyTo(part, {planeIndex: 0, format: 'f32-planar'});
      if (this.samples === 0) {
        this.firstTimestamp = audioData.timestamp;
        this.startedAt = performance.now();
      }
      this.parts.push(part);
      this.samples += frames;
      if (this.samples >= audioData.sampleRate * CONFIG.batchMs / 1000) this.flush(audioData.sampleRate);
    }
    flush(sampleRate) {
      const buffer = new ArrayBuffer(HEADER_BYTES + this.samples * 2);
      const header = new DataView(buffer);
      const contributing = latestSource(this.receiver.getContributingSources(), this.startedAt);
      const synchronizing = latestSource(this.receiver.getSynchronizationSources(), 0);
      header.setUint8(0, 1);
      header.setUint16(2, this.track, true);
      header.setUint32(4, sampleRate, true);
      header.setUint32(8, this.samples, true);
      header.setFloat64(12, this.firstTimestamp, true);
      header.setUint32(20, contributing ? contributing.source : 0, true);
      header.setUint32(24, synchronizing ? synchronizing.source : 0, true);
      const pcm = new Int16Array(buffer, HEADER_BYTES, this.samples);
      let offset = 0;
      for (const part of this.parts) {
        for (let i = 0; i < part.length; i++) {
          const value = part[i];
          pcm[offset++] = value >= 1 ? 32767 : value <= -1 ? -32768 : value * 32767;
        }
      }
      this.parts = [];
      this.samples = 0;
      send(buffer);
    }
  }

  async function pump(track, batch) {
    const reader = new MediaStreamTrackProcessor({track}).readable.getReader();
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      try { batch.add(value); } finally { value.close(); }
    }
  }

  const tapped = new WeakSet();
  const players = new Set();  // an element nobody refers to may be collected mid-call
  let nextTrack = 1;
  function tap(event) {
    const track = event.track;
    if (track.kind !== 'audio' || tapped.has(track) || nextTrack > 0xffff) return;
    tapped.add(track);
    const id = nextTrack++;
    const transceiver = event.transceiver;
    const mid = () => (transceiver ? transceiver.mid : null);
    signal({type: 'track', track: id, track_id: track.id, mid: mid(), muted: track.muted});
    const state = () => signal({type: 'track_state', track: id, mid: mid(), muted: track.muted,
                                ended: track.readyState === 'ended'});
    for (const name of ['mute', 'unmute', 'ended']) track.addEventListener(name, state);
    for (const stream of event.streams) {
      stream.addEventListener('removetrack', (removed) => { if (removed.track === track) state(); });
    }
    const player = new Audio();
    player.muted = true;
    player.srcObject = new MediaStream([track]);
    player.play().catch((error) => signal({type: 'error', track: id, message: String(error)}));
    players.add(player);
    if (typeof MediaStreamTrackProcessor === 'undefined') {
      signal({type: 'error', track: id, message: 'this browser has no MediaStreamTrackProcessor'});
      return;
    }
    pump(track, new Batch(id, event.receiver)).then(
      () => signal({type: 'track_state', track: id, mid: mid(), muted: true, ended: true}),
      (error) => signal({type: 'error', track: id, message: String(error)})).finally(() => {
      player.srcObject = null;
      players.delete(player);
    });
  }

  if (NativePeerConnection) {
    class TappedPeerConnection extends NativePeerConnection {
      constructor(...args) {
        super(...args);
        this.addEventListener('track', (event) => {
          try { tap(event); } catch (error) { signal({type: 'error', message: String(error)}); }
        });
      }
    }
    Object.defineProperty(TappedPeerConnection, 'name', {value: 'RTCPeerConnection'});
    window.RTCPeerConnection = TappedPeerConnection;
    if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = TappedPeerConnection;
  }
  watchRoster(CONFIG.roster, signal);
}
