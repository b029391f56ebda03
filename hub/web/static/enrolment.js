// The enrol-by-tap page: polls the enrolment's state until a card is tapped, refused or the wait ends.
(function () {
  "use strict";
  var box = document.getElementById("tap");
  if (!box) { return; }
  var url = box.getAttribute("data-state-url");
  var message = document.getElementById("tap-message");
  var left = document.getElementById("tap-left");
  var seconds = document.getElementById("tap-seconds");
  var confirm = document.getElementById("tap-confirm");
  var fingerprint = document.getElementById("tap-fingerprint");
  var cancel = document.getElementById("tap-cancel");
  var again = document.getElementById("tap-again");
  var timer = null;

  function apply(data) {
    box.setAttribute("data-state", data.state);
    message.textContent = data.message + (data.holder ? " (holder " + data.holder + ")" : "");
    message.className = "gh-tap gh-tap-" + data.state;
    left.hidden = data.state !== "waiting";
    seconds.textContent = String(data.seconds_left);
    confirm.hidden = data.state !== "seen";
    fingerprint.textContent = data.fingerprint || "";
    var open = data.state === "waiting" || data.state === "seen";
    cancel.hidden = !open;
    again.hidden = open;
    if (data.state !== "waiting" && timer !== null) { clearInterval(timer); timer = null; }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* the next tick tries again */ });
  }

  if (box.getAttribute("data-state") === "waiting") {
    timer = setInterval(poll, 1000);
  }
}());
