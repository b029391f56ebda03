// The print view's Print button (the CSP forbids inline handlers).
(function () {
  "use strict";
  var button = document.getElementById("print-now");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
}());
