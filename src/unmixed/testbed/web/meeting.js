// The testbed's web meeting client: a pre-join screen, a call with a roster, and
// the screens a meeting can end on. It talks to Janus itself through janus.js,
// in a VideoRoom (one stream per person, all received on one multistream
// subscriber connection) or an AudioBridge (one mix for everyone).
// Browser bots read its roster, so the ids and classes here are a contract.
(() => {
  const [, kind, roomText] = location.pathname.match(/^\/(videoroom|audiobridge)\/(\d+)/);
  const room = Number(roomText);
  const pin = new URLSearchParams(location.search).get('pin');
  const roomFields = pin ? {room, pin} : {room};
  const NOT_FOUND = new Set([426, 485]); // VideoRoom's and AudioBridge's "no such room"
  const RENEGOTIATION_TIMEOUT_MS = 5000;
  const meeting = {feedId: null, kind, room, connected: false};
  window.unmixedMeeting = meeting;

  const $ = (selector) => document.querySelector(selector);
  const screens = ['prejoin', 'call', 'not-found', 'cannot-join', 'ended', 'removed', 'left'];
  let current = 'prejoin';
  function show(screen) {
    current = screen;
    for (const id of screens) document.getElementById(id).hidden = id !== screen;
  }
  const inCall = () => current === 'call';

  // Names travel in Janus's one `display` string as {"name", "is_host", "is_bot"};
  // a plain string (another Janus client) is just the name.
  function decodeDisplay(display) {
    try {
      const fields = JSON.parse(display || '');
      if (fields && typeof fields === 'object') {
        return {name: String(fields.name ?? ''), host: fields.is_host === true};
      }
    } catch (error) { /* not ours: the display is the name */ }
    return {name: display || '', host: false};
  }

  // The roster: one entry per person, updated in place so each <li> lives as long as they do.
  const people = new Map();
  function upsert(id, changes) {
    const key = String(id);
    const person = people.get(key) || {muted: false, talking: false, host: false, name: '', mid: null};
    Object.assign(person, changes);
    people.set(key, person);
    render(key, person);
  }
  function remove(id) {
    const key = String(id);
    people.delete(key);
    $(`#roster li[data-key="${CSS.escape(key)}"]`)?.remove();
  }
  function render(key, person) {
    let item = $(`#roster li[data-key="${CSS.escape(key)}"]`);
    if (!item) {
      item = document.createElement('li');
      item.className = 'participant';
      item.dataset.key = key;
      const name = document.createElement('span');
      name.className = 'name';
      item.append(name);
      $('#roster').append(item);
    }
    item.querySelector('.name').textContent = person.name;
    item.classList.toggle('self', key === String(meeting.feedId));
    item.classList.toggle('host', person.host);
    item.classList.toggle('muted', person.muted);
    // An AudioBridge keeps saying "talking" while someone is muted: a muted person is silent.
    item.classList.toggle('speaking', person.talking && !person.muted);
    if (person.mid === null) item.removeAttribute('data-mid');
    else item.dataset.mid = person.mid;
  }
  function addPerson(entry) {
    upsert(entry.id, decodeDisplay(entry.display));
  }

  // Remote audio plays through <audio> elements, as in any meeting client: a
  // browser decodes a remote track only when something plays it.
  function onRemoteTrack(handleName, track, mid, on) {
    if (track.kind !== 'audio') return;
    const id = `audio-${handleName}-${mid}`;
    document.getElementById(id)?.remove();
    if (!on) return;
    const audio = document.createElement('audio');
    audio.id = id;
    audio.autoplay = true;
    audio.srcObject = new MediaStream([track]);
    $('#speakers').append(audio);
    audio.play().catch(() => {});
  }

  function refused(error) {
    show(NOT_FOUND.has(error.error_code) ? 'not-found' : 'cannot-join');
    janus?.destroy();
  }
  function ended(screen) {
    if (!inCall()) return;
    show(screen);
    janus?.destroy();
  }

  let janus = null;
  let handle = null;
  const micOff = () => $('#mic-off').classList.contains('off');

  function ownDisplay() {
    return JSON.stringify({name: $('#name').value.trim(), is_host: false, is_bot: false});
  }

  function enterCall(id, others) {
    meeting.feedId = id;
    show('call');
    upsert(id, {...decodeDisplay(ownDisplay()), muted: micOff()});
    for (const entry of others) addPerson(entry);
  }

  // A person leaving, or this page being told to go.
  function onGone(msg) {
    const gone = msg.leaving ?? msg.kicked;
    if (gone === undefined) return false;
    if (gone === 'ok' || gone === meeting.feedId) {
      ended(msg.reason === 'kicked' || msg.kicked === meeting.feedId ? 'removed' : 'ended');
    } else {
      remove(gone);
      if (kind === 'videoroom') videoRoom.unsubscribe(gone);
    }
    return true;
  }

  const videoRoom = {
    subscriber: null,
    subscribed: new Set(),
    joinedAsSubscriber: false,
    chain: Promise.resolve(),
    settle: null,

    join() {
      handle.send({message: {request: 'join', ptype: 'publisher', display: ownDisplay(), ...roomFields}});
    },
    onMessage(msg, jsep) {
      if (msg.error_code) return inCall() ? undefined : refused(msg);
      if (jsep) handle.handleRemoteJsep({jsep});
      if (msg.videoroom === 'destroyed') return ended('ended');
      if (msg.videoroom === 'joined') {
        this.privateId = msg.private_id;
        enterCall(msg.id, msg.attendees || []);
        this.onPublishers(msg.publishers || []);
        if (!micOff()) this.publish();
        return;
      }
      if (msg.videoroom === 'talking' || msg.videoroom === 'stopped-talking') {
        if (people.has(String(msg.id))) upsert(msg.id, {talking: msg.videoroom === 'talking'});
        return;
      }
      if (onGone(msg)) return;
      if (msg.joining) addPerson(msg.joining);
      if (msg.publishers) this.onPublishers(msg.publishers);
      if (msg.unpublished !== undefined && msg.unpublished !== 'ok') this.unsubscribe(msg.unpublished);
      if (msg.moderation && people.has(String(msg.id))) {
        upsert(msg.id, {muted: msg.moderation === 'muted'});
      }
    },
    publish() {
      handle.createOffer({
        tracks: [{type: 'audio', capture: true, recv: false}],
        success: (offer) => handle.send({message: {request: 'configure', audio: true, video: false}, jsep: offer}),
        error: (error) => console.error('cannot publish the microphone', error),
      });
    },
    onPublishers(publishers) {
      for (const entry of publishers) {
        if (entry.id === meeting.feedId) continue;
        const audio = (entry.streams || []).find((stream) => stream.type === 'audio');
        addPerson(entry);
        if (!audio) continue;
        upsert(entry.id, {muted: audio.moderated === true, talking: entry.talking === true});
        this.subscribe(entry.id);
      }
    },
    // Subscribing and unsubscribing renegotiate the one subscriber connection,
    // so they go one at a time: each waits for the previous answer to be sent.
    enqueue(makeRequest) {
      this.chain = this.chain.then(() => new Promise((resolve) => {
        const message = makeRequest();
        if (!message) return resolve();
        this.settle = resolve;
        this.subscriber.send({message, error: resolve});
        setTimeout(resolve, RENEGOTIATION_TIMEOUT_MS); // an update that changed nothing has no offer
      }));
    },
    subscribe(feed) {
      if (this.subscribed.has(feed)) return;
      this.subscribed.add(feed);
      this.enqueue(() => {
        if (this.joinedAsSubscriber) return {request: 'subscribe', streams: [{feed}]};
        this.joinedAsSubscriber = true;
        return {request: 'join', ptype: 'subscriber', private_id: this.privateId, streams: [{feed}], ...roomFields};
      });
    },
    unsubscribe(feed) {
      if (!this.subscribed.delete(feed)) return;
      if (people.has(String(feed))) upsert(feed, {mid: null, talking: false});
      this.enqueue(() => ({request: 'unsubscribe', streams: [{feed}]}));
    },
    onSubscriberMessage(msg, jsep) {
      if (msg.streams) {
        for (const stream of msg.streams) {
          if (stream.type === 'audio' && stream.active !== false && people.has(String(stream.feed_id))) {
            upsert(stream.feed_id, {mid: stream.mid});
          }
        }
      }
      if (!jsep) {
        if (msg.error_code) this.done();
        return;
      }
      this.subscriber.createAnswer({
        jsep,
        tracks: [],
        success: (answer) => this.subscriber.send({message: {request: 'start', room}, jsep: answer, success: () => this.done()}),
        error: (error) => { console.error('cannot answer the subscription', error); this.done(); },
      });
    },
    done() {
      const settle = this.settle;
      this.settle = null;
      settle?.();
    },
    attachSubscriber(then) {
      janus.attach({
        plugin: 'janus.plugin.videoroom',
        success: (attached) => { this.subscriber = attached; then(); },
        error: (error) => console.error('cannot attach the subscriber', error),
        onmessage: (msg, jsep) => this.onSubscriberMessage(msg, jsep),
        onremotetrack: (track, mid, on) => onRemoteTrack('subscriber', track, mid, on),
      });
    },
  };

  const audioBridge = {
    join() {
      const muted = micOff() ? {muted: true} : {};
      handle.send({message: {request: 'join', display: ownDisplay(), ...muted, ...roomFields}});
    },
    onMessage(msg, jsep) {
      if (msg.error_code) return inCall() ? undefined : refused(msg);
      if (jsep) handle.handleRemoteJsep({jsep});
      if (msg.audiobridge === 'destroyed') return ended('ended');
      if (msg.audiobridge === 'joined' && msg.id !== undefined && meeting.feedId === null) {
        enterCall(msg.id, []);
        this.onParticipants(msg.participants || []);
        this.connect();
        return;
      }
      if (msg.audiobridge === 'talking' || msg.audiobridge === 'stopped-talking') {
        if (people.has(String(msg.id))) upsert(msg.id, {talking: msg.audiobridge === 'talking'});
        return;
      }
      if (onGone(msg)) return;
      if (msg.participants) this.onParticipants(msg.participants);
    },
    onParticipants(participants) {
      for (const entry of participants) {
        const changes = {muted: entry.muted === true};
        if (entry.display !== undefined) Object.assign(changes, decodeDisplay(entry.display));
        if (entry.talking !== undefined) changes.talking = entry.talking === true;
        upsert(entry.id, changes);
      }
    },
    // One connection both ways: the microphone into the mix (unless it is off), the mix back.
    connect() {
      handle.createOffer({
        tracks: [{type: 'audio', capture: !micOff(), recv: true}],
        success: (offer) => handle.send({message: {request: 'configure'}, jsep: offer}),
        error: (error) => console.error('cannot connect to the bridge', error),
      });
    },
  };

  const rooms = {videoroom: videoRoom, audiobridge: audioBridge};

  function join() {
    if (!$('#name').value.trim()) return $('#name').focus();
    $('#join').disabled = true;
    const plugin = rooms[kind];
    janus = new Janus({
      server: document.querySelector('meta[name="janus-url"]').content,
      iceServers: [],
      success: () => {
        const attach = () => janus.attach({
          plugin: `janus.plugin.${kind}`,
          success: (attached) => { handle = attached; plugin.join(); },
          error: () => show('cannot-join'),
          onmessage: (msg, jsep) => plugin.onMessage(msg, jsep),
          onremotetrack: (track, mid, on) => onRemoteTrack('room', track, mid, on),
          webrtcState: (up) => { meeting.connected = up; },
        });
        if (kind === 'videoroom') videoRoom.attachSubscriber(attach);
        else attach();
      },
      error: () => (inCall() ? ended('ended') : show('cannot-join')),
    });
  }

  function leave() {
    show('left');
    handle?.send({message: {request: 'leave'}});
    handle?.hangup();
    janus?.destroy();
  }

  $('#mic-off').addEventListener('click', () => {
    const off = $('#mic-off').classList.toggle('off');
    $('#mic-off').setAttribute('aria-pressed', String(off));
  });
  $('#join').addEventListener('click', join);
  $('#leave').addEventListener('click', leave);

  const chrome = navigator.userAgent.match(/Chrom(?:e|ium)\/(\d+)/);
  // janus.js wants webrtc-adapter only to ask which browser this is.
  const adapter = {browserDetails: {browser: 'chrome', version: chrome ? Number(chrome[1]) : null}};
  Janus.init({debug: false, dependencies: Janus.useDefaultDependencies({adapter})});
  show('prejoin');
})();
