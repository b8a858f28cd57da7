// The roster observer, installed in every frame before the page runs.
// It reads the participant list that a RosterSpec describes and reports every
// change as one snapshot: {type: "roster", entries: [...], t: <epoch ms>}.
// Reports go to window.__unmixedSignal (the capture channel) when it exists.
(() => {
  const spec = __UNMIXED_ROSTER_SPEC__;
  const has = (entry, marker) =>
    Boolean(marker) && (entry.matches(marker) || entry.querySelector(marker) !== null);
  function snapshot() {
    const entries = [];
    for (const entry of document.querySelectorAll(spec.entry)) {
      if (has(entry, spec.own_marker)) continue;
      const key = entry.getAttribute(spec.key_attribute);
      if (!key) continue;
      const nameElement = entry.matches(spec.name) ? entry : entry.querySelector(spec.name);
      entries.push({
        key,
        name: nameElement ? nameElement.textContent.trim() : '',
        muted: has(entry, spec.muted_marker),
        speaking: has(entry, spec.speaking_marker),
        host: has(entry, spec.host_marker),
        track: spec.track_attribute ? entry.getAttribute(spec.track_attribute) : null,
        source: spec.source_attribute ? entry.getAttribute(spec.source_attribute) : null,
      });
    }
    return entries;
  }
  window.__unmixedRoster = snapshot;
  let last = null;
  let scheduled = false;
  function report() {
    scheduled = false;
    const entries = snapshot();
    const text = JSON.stringify(entries);
    if (text === last || !window.__unmixedSignal) return;
    last = text;
    window.__unmixedSignal({type: 'roster', entries, t: performance.timeOrigin + performance.now()});
  }
  function schedule() {
    if (!scheduled) { scheduled = true; queueMicrotask(report); }
  }
  function observe() {
    new MutationObserver(schedule).observe(document.documentElement,
      {subtree: true, childList: true, attributes: true, characterData: true});
    schedule();
  }
  if (document.documentElement) observe();
  else document.addEventListener('DOMContentLoaded', observe, {once: true});
  window.__unmixedRosterResend = () => { last = null; schedule(); };
})();
