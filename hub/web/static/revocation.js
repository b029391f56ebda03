// Refreshes the per-door confirmation table of a revocation page until every door confirms.
(function () {
  "use strict";
  var table = document.getElementById("doors");
  if (!table) { return; }
  var url = table.getAttribute("data-state-url");
  var summary = document.getElementById("doors-summary");
  var timer = null;

  function describe(door) {
    if (door.state === "confirmed") { return door.confirmed_at ? door.confirmed_at.substring(11, 19) + " UTC" : ""; }
    if (door.state === "offline") {
      return door.offline_since ? "offline since " + door.offline_since.substring(0, 16).replace("T", " ") + " UTC" : "never connected";
    }
    return "waiting for the door's ack";
  }

  function apply(data) {
    var counts = {confirmed: 0, pending: 0, offline: 0};
    data.doors.forEach(function (door) {
      counts[door.state] = (counts[door.state] || 0) + 1;
      var row = table.querySelector('tr[data-door="' + door.door + '"]');
      if (!row) { return; }
      var cell = row.querySelector('[data-field="state"]');
      cell.textContent = door.state;
      cell.className = "gh-state gh-state-" + door.state;
      row.querySelector('[data-field="when"]').textContent = describe(door);
    });
    summary.textContent = counts.confirmed + " confirmed, " + counts.pending + " pending, " +
      counts.offline + " offline" + (data.complete ? " — every door confirmed." : "");
    if (data.complete && timer !== null) { clearInterval(timer); timer = null; }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) { apply(data); } })
      .catch(function () { /* the next tick tries again */ });
  }

  poll();
  timer = setInterval(poll, 1000);
}());
