// The roster observer: reads the participant list that a RosterSpec describes
// and reports every change, the moment it happens, as one whole snapshot
// through `report({type: "roster", entries: [...]})`. Returns the snapshot
// function. Only the top frame watches: a frame inside the page (an add-on, an
// ad, a blank helper) has no say in who is in the meeting.
function watchRoster(spec, report) {
  const has = (entry, marker) =>
    Boolean(marker) && (entry.matches(marker) || entry.querySelector(marker) !== null);
  const attribute = (entry, name) => (name ? entry.getAttribute(name) : null);
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
        track: attribute(entry, spec.track_attribute),
        source: attribute(entry, spec.source_attribute),
      });
    }
    return entries;
  }
  let last = null;
  let scheduled = false;
  function reportChange() {
    scheduled = false;
    const entries = snapshot();
    const text = JSON.stringify(entries);
    if (text === last) return;
    last = text;
    report({type: 'roster', entries});
  }
  function schedule() {
    if (!scheduled) { scheduled = true; queueMicrotask(reportChange); }
  }
  function observe() {
    new MutationObserver(schedule).observe(document.documentElement,
      {subtree: true, childList: true, attributes: true, characterData: true});
    schedule();
  }
  if (window === window.top) {
    if (document.documentElement) observe();
    else document.addEventListener('DOMContentLoaded', observe, {once: true});
  }
  return snapshot;
}
