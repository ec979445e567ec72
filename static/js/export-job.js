// An export job's page while the job runs: fetch the page again every few seconds and update the status box in
// place, until the job is done or failed. Replaces a <meta http-equiv="refresh">, which reloads the whole page
// under a screen reader's or a keyboard user's feet (WCAG 2.2.1).
(function () {
  "use strict";
  var box = document.querySelector("[data-job-status][data-refresh-seconds]");
  if (!box) return;
  var seconds = Number(box.getAttribute("data-refresh-seconds")) || 3;

  function poll() {
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").querySelector("[data-job-status]");
        if (!next) return;
        box.innerHTML = next.innerHTML;
        if (next.hasAttribute("data-refresh-seconds")) setTimeout(poll, seconds * 1000);
      })
      .catch(function () { setTimeout(poll, seconds * 2000); });
  }

  setTimeout(poll, seconds * 1000);
})();
