/* Saves each answer as it is chosen, so closing the phone mid-page loses nothing.
   A file, not an inline script, so the Content-Security-Policy can forbid inline code. */
(function () {
  var form = document.getElementById("answers"), queue = Promise.resolve();
  form.addEventListener("change", function () {
    queue = queue.then(function () {
      var data = new URLSearchParams(new FormData(form));
      data.set("action", "save");
      // getAttribute: form.action would be the button named "action".
      return fetch(form.getAttribute("action"), {method: "POST", body: data})
        .catch(function () {});
    });
  });
})();
