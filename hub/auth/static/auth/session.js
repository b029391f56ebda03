// Idle countdown for hub pages (WISP VII.B: lock after 5 minutes without activity).
// The server ends the session on its own; this script only shows the time left, warns at
// 4 minutes, and leaves the page when the time is up so nothing stays on screen.
(function () {
  "use strict";
  var box = document.getElementById("gh-session");
  if (!box) { return; }
  var left = document.getElementById("gh-session-left");
  var warning = document.getElementById("gh-session-warning");
  var idle = parseInt(box.dataset.idleS, 10);
  var warnAfter = parseInt(box.dataset.warnAfterS, 10);
  var remaining = parseInt(box.dataset.remainingS, 10);
  var started = Date.now();
  var deadline = started + remaining * 1000;
  var warnAt = started + Math.min(warnAfter, remaining) * 1000;
  if (remaining < idle) { warnAt = Math.min(warnAt, deadline - (idle - warnAfter) * 1000); }

  function show(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var m = Math.floor(s / 60);
    var r = s % 60;
    left.textContent = m + ":" + (r < 10 ? "0" : "") + r;
  }

  function leave() {
    // another tab may have kept the session alive: ask before leaving
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.ok ? resp.json() : { remaining_s: 0 }; })
      .then(function (body) {
        if (body.remaining_s > 0) {
          deadline = Date.now() + body.remaining_s * 1000;
          warnAt = deadline - (idle - warnAfter) * 1000;
          warning.hidden = true;
          schedule();
        } else {
          window.location.assign(box.dataset.loginUrl);
        }
      })
      .catch(function () { window.location.assign(box.dataset.loginUrl); });
  }

  var timer = null;
  function tick() {
    var now = Date.now();
    show((deadline - now) / 1000);
    if (now >= warnAt) { warning.hidden = false; }
    if (now >= deadline) { clearInterval(timer); timer = null; leave(); }
  }
  function schedule() {
    if (timer === null) { timer = setInterval(tick, 1000); }
    tick();
  }
  schedule();
})();
