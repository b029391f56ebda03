// On-screen keyboard for inputs marked data-osk. Letters with the accents Spanish and
// Portuguese names need, space, hyphen, apostrophe, backspace and Done. Fires "input"
// events so filters and the idle timer see the typing.
(function () {
  "use strict";
  var panel = document.querySelector("[data-osk-panel]");
  var inputs = document.querySelectorAll("input[data-osk]");
  if (!panel || inputs.length === 0) { return; }
  // Names have no digits: no number row, so the keyboard leaves room on a 480-line screen.
  var rows = [
    "qwertyuiop".split(""),
    "asdfghjklñ".split(""),
    "zxcvbnm-'".split(""),
    "áéíóúãõâêçü".split("")
  ];
  var letterRows = rows;
  var digitRows = ["123".split(""), "456".split(""), "789".split(""), ["0"]];
  var target = inputs[0];
  var shift = true;

  function keyButton(label, cls, onPress) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "osk-key" + (cls ? " " + cls : "");
    b.textContent = label;
    b.addEventListener("pointerdown", function (ev) { ev.preventDefault(); onPress(); });
    return b;
  }
  function emit() { target.dispatchEvent(new Event("input", { bubbles: true })); }
  function type(ch) {
    if (target.maxLength > 0 && target.value.length >= target.maxLength) { return; }
    target.value += shift ? ch.toUpperCase() : ch;
    shift = ch === " " || ch === "-";
    render(); emit();
  }
  function render() {
    panel.textContent = "";
    rows.forEach(function (row) {
      var r = document.createElement("div");
      r.className = "osk-row";
      row.forEach(function (ch) {
        r.appendChild(keyButton(shift ? ch.toUpperCase() : ch, "", function () { type(ch); }));
      });
      panel.appendChild(r);
    });
    var last = document.createElement("div");
    last.className = "osk-row";
    if (rows === letterRows) {
      last.appendChild(keyButton("⇧", "action", function () { shift = !shift; render(); }));
      last.appendChild(keyButton(" ", "wide", function () { type(" "); }));
    }
    last.appendChild(keyButton("⌫", "action", function () {
      target.value = target.value.slice(0, -1); shift = target.value === ""; render(); emit();
    }));
    last.appendChild(keyButton("✓", "action", function () { hide(); }));
    panel.appendChild(last);
  }
  function show(input) {
    target = input;
    rows = input.getAttribute("data-osk") === "digits" ? digitRows : letterRows;
    shift = input.value === "" || /[\s-]$/.test(input.value);
    render();
    panel.hidden = false;
    document.body.classList.add("has-osk");
    input.scrollIntoView({ block: "start" });
  }
  function hide() { panel.hidden = true; document.body.classList.remove("has-osk"); }
  inputs.forEach(function (input) {
    input.setAttribute("readonly", "readonly");  // no system keyboard pops up
    input.addEventListener("pointerdown", function () { show(input); });
    input.addEventListener("focus", function () { show(input); });
  });
})();
