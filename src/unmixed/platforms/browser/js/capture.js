// The capture script, installed in every frame before any page script runs.
//
// It wraps RTCPeerConnection so that every remote audio track the page receives
// is tapped without the page's help: a MediaStreamTrackProcessor reads its
// decoded frames, and a muted <audio> element plays it, because Chromium does
// not decode remote audio that nothing plays. PCM goes to the bot as binary
// websocket messages of about BATCH_MS each (Playwright copies every websocket
// frame to its driver, so fewer, larger frames cost far less); what identifies
// each track, its lifecycle and the page's other signals go as JSON text.
//
// Binary message: a little-endian header, then `samples` signed 16-bit mono PCM.
//   u8 version, u8 reserved, u16 track, u32 sample_rate, u32 samples, u32 sequence,
//   f64 media_time_us (AudioData.timestamp of the first sample),
//   f64 emitted_ms (epoch ms when sent), u32 contributing_source (0: none), u32 ssrc (0: unknown)
(() => {
  if (window.__unmixedCapture) return;
  window.__unmixedCapture = true;
  const CONFIG = __UNMIXED_CAPTURE_CONFIG__;
  const HEADER_BYTES = 40;
  const NativePeerConnection = window.RTCPeerConnection;
  const NativeWebSocket = window.WebSocket;
  const keep = [];
  const now = () => performance.timeOrigin + performance.now();

  let socket = null;
  const backlog = [];
  function send(message) {
    if (socket === null) {
      socket = new NativeWebSocket(CONFIG.url);
      socket.binaryType = 'arraybuffer';
      socket.onopen = () => { while (backlog.length) socket.send(backlog.shift()); };
    }
    if (socket.readyState === NativeWebSocket.OPEN) socket.send(message);
    else if (socket.readyState === NativeWebSocket.CONNECTING) backlog.push(message);
  }
  const signal = (fields) => send(JSON.stringify({...fields, t: now()}));
  window.__unmixedSignal = (fields) => send(JSON.stringify(fields));

  function latestSource(sources) {
    let latest = null;
    for (const source of sources) if (latest === null || source.timestamp > latest.timestamp) latest = source;
    return latest;
  }

  class Batch {
    constructor(track, receiver) {
      this.track = track;
      this.receiver = receiver;
      this.parts = [];
      this.samples = 0;
      this.firstTimestamp = 0;
      this.sequence = 0;
    }
    add(audioData) {
      const frames = audioData.numberOfFrames;
      const part = new Float32Array(frames);
      audioData.copyTo(part, {planeIndex: 0, format: 'f32-planar'});
      if (this.samples === 0) this.firstTimestamp = audioData.timestamp;
      this.parts.push(part);
      this.samples += frames;
      if (this.samples >= audioData.sampleRate * CONFIG.batchMs / 1000) this.flush(audioData.sampleRate);
    }
    flush(sampleRate) {
      const buffer = new ArrayBuffer(HEADER_BYTES + this.samples * 2);
      const header = new DataView(buffer);
      const contributing = latestSource(this.receiver.getContributingSources());
      const synchronizing = latestSource(this.receiver.getSynchronizationSources());
      header.setUint8(0, 1);
      header.setUint16(2, this.track, true);
      header.setUint32(4, sampleRate, true);
      header.setUint32(8, this.samples, true);
      header.setUint32(12, ++this.sequence, true);
      header.setFloat64(16, this.firstTimestamp, true);
      header.setFloat64(24, now(), true);
      header.setUint32(32, contributing ? contributing.source : 0, true);
      header.setUint32(36, synchronizing ? synchronizing.source : 0, true);
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

  let nextTrack = 1;
  function tap(event) {
    const track = event.track;
    if (track.kind !== 'audio') return;
    const id = nextTrack++;
    const transceiver = event.transceiver;
    const mid = () => (transceiver ? transceiver.mid : null);
    signal({type: 'track', track: id, track_id: track.id, mid: mid(),
            streams: event.streams.map((stream) => stream.id), muted: track.muted});
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
    keep.push(player);
    if (typeof MediaStreamTrackProcessor === 'undefined') {
      signal({type: 'error', track: id, message: 'this browser has no MediaStreamTrackProcessor'});
      return;
    }
    pump(track, new Batch(id, event.receiver)).then(
      () => signal({type: 'track_state', track: id, mid: mid(), muted: true, ended: true}),
      (error) => signal({type: 'error', track: id, message: String(error)}));
  }

  if (!NativePeerConnection) return;
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
})();
