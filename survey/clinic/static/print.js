/* Shows the Print button (hidden without JavaScript) and prints when it is pressed.
   A file, not an inline handler, so the Content-Security-Policy can forbid inline code. */
document.querySelectorAll("[data-print]").forEach(function (button) {
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
});
