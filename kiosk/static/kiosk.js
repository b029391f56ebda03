// Gatehouse kiosk page behaviour: idle reset, live camera preview, scan polling,
// auto-return from result pages, host list filter. No inline script anywhere (CSP).
(function () {
  "use strict";
  var body = document.body;
  var idleMs = (parseInt(body.getAttribute("data-idle-s"), 10) || 60) * 1000;
  var resetUrl = body.getAttribute("data-reset-url") || "/reset";
  var idleTimer = null;
  var onWelcome = body.classList.contains("welcome");

  function armIdle() {
    if (idleTimer) { clearTimeout(idleTimer); }
    if (onWelcome) { return; }
    // Policy VII.B: wipe the screen and anything half-entered after the idle time.
    idleTimer = setTimeout(function () { window.location.replace(resetUrl); }, idleMs);
  }
  ["pointerdown", "keydown", "touchstart", "input"].forEach(function (name) {
    document.addEventListener(name, armIdle, { passive: true });
  });
  armIdle();

  // Live preview: reload the frame, one request at a time.
  document.querySelectorAll("img[data-live]").forEach(function (img) {
    var base = img.getAttribute("src");
    function next() { setTimeout(function () { img.src = base + "?t=" + Date.now(); }, 350); }
    img.addEventListener("load", next);
    img.addEventListener("error", function () { setTimeout(next, 2000); });
  });

  // Scan polling: POST, follow {next}, show {message}.
  document.querySelectorAll("[data-poll]").forEach(function (el) {
    var url = el.getAttribute("data-poll");
    var stopped = false;
    function poll() {
      if (stopped) { return; }
      fetch(url, { method: "POST", credentials: "same-origin", headers: { "X-Requested-With": "kiosk" } })
        .then(function (r) {
          if (r.redirected) { window.location.replace(r.url); stopped = true; return null; }
          return r.json();
        })
        .then(function (data) {
          if (!data) { return; }
          if (data.next) { stopped = true; window.location.assign(data.next); return; }
          if (data.message) { el.textContent = data.message; }
          setTimeout(poll, 700);
        })
        .catch(function () { setTimeout(poll, 1500); });
    }
    setTimeout(poll, 400);
  });

  // Result pages go back to the welcome screen by themselves.
  document.querySelectorAll("[data-return-s]").forEach(function (el) {
    var s = parseInt(el.getAttribute("data-return-s"), 10) || 12;
    var home = el.getAttribute("data-home") || "/";
    setTimeout(function () { window.location.replace(home); }, s * 1000);
  });

  // Host search: filter the list as the visitor types (on the on-screen keyboard).
  document.querySelectorAll("input[data-filter]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("data-filter"));
    if (!list) { return; }
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      list.querySelectorAll("[data-name]").forEach(function (item) {
        item.classList.toggle("is-hidden", q !== "" && item.getAttribute("data-name").indexOf(q) === -1);
      });
    });
  });
})();
