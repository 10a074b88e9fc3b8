// Spool's dashboard: live numbers on the overview. The page marks its numbers with data-field (and
// data-queue for a queue's own); this script asks GET /dashboard/live every 2 s while the tab is
// visible and writes the answers in as text. It never builds HTML, so nothing it receives can run.
(function () {
  'use strict';

  var root = document.querySelector('[data-live-url]');
  if (!root) { return; }
  var url = root.getAttribute('data-live-url');
  var every = 2000;
  var timer = null;
  var inFlight = false;

  function write(cell, value) {
    if (value === undefined || value === null) { return; }
    var text = String(value);
    if (cell.textContent !== text) { cell.textContent = text; }
    if (cell.getAttribute('data-field') === 'state') { cell.className = 'state state-' + text; }
  }

  function apply(data) {
    var queues = data.queues || {};
    var cells = document.querySelectorAll('[data-field]');
    for (var i = 0; i < cells.length; i++) {
      var cell = cells[i];
      var name = cell.getAttribute('data-queue');
      var source = name === null ? data.summary : queues[name];
      var field = cell.getAttribute('data-field');
      if (source && Object.prototype.hasOwnProperty.call(source, field)) { write(cell, source[field]); }
    }
    root.setAttribute('data-live-state', 'live');
  }

  function schedule() {
    if (timer === null && !inFlight && !document.hidden) { timer = window.setTimeout(poll, every); }
  }

  function poll() {
    timer = null;
    inFlight = true;
    fetch(url, { credentials: 'same-origin', cache: 'no-store', headers: { 'Accept': 'application/json' } })
      .then(function (response) {
        if (response.status === 401) {
          // The session ended (expired, logged out elsewhere, key revoked): sign in again.
          window.location.assign('/dashboard/login');
          return null;
        }
        if (!response.ok) { throw new Error('live: HTTP ' + response.status); }
        return response.json();
      })
      .then(function (data) {
        inFlight = false;
        if (data === null) { return; }
        apply(data);
        schedule();
      })
      .catch(function () {
        inFlight = false;
        root.setAttribute('data-live-state', 'stale');
        schedule();
      });
  }

  document.addEventListener('visibilitychange', function () {
    if (document.hidden) {
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
    } else {
      schedule();
    }
  });
  schedule();
})();
