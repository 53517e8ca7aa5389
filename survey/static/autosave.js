/* Saves each answer as it is chosen, so closing the phone mid-page loses nothing, and says so
   when a save fails; counts the answers given; moves focus to the list of missing answers.
   A file, not an inline script, so the Content-Security-Policy can forbid inline code. */
(function () {
  var form = document.getElementById("answers"), queue = Promise.resolve();
  var problem = document.getElementById("save-problem");
  var count = document.getElementById("answered-count");
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }

  function showCount() {
    if (!count) { return; }
    var names = {}, answered = 0;
    form.querySelectorAll("input[type=radio]").forEach(function (input) {
      names[input.name] = names[input.name] || input.checked;
    });
    Object.keys(names).forEach(function (name) { if (names[name]) { answered += 1; } });
    count.textContent = count.getAttribute("data-template")
      .replace("{answered}", answered).replace("{total}", count.getAttribute("data-total"));
  }

  form.addEventListener("change", function () {
    showCount();
    queue = queue.then(function () {
      var data = new URLSearchParams(new FormData(form));
      data.set("action", "save");
      // getAttribute: form.action would be the button named "action".
      return fetch(form.getAttribute("action"), {method: "POST", body: data})
        .then(function (response) {
          // 204: saved. Anything else (an expired page, a lost session) is worth telling.
          problem.textContent = response.status === 204 ? "" : problem.getAttribute("data-message");
        })
        .catch(function () { problem.textContent = problem.getAttribute("data-message"); });
    });
  });
})();
