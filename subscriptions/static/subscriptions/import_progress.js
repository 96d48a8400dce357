// Live progress of an import job: polls the job's JSON status URL and updates the bar in
// place until the job is done or failed (a static file, so the CSP needs no inline script).
(function () {
  "use strict";
  var box = document.getElementById("import-job");
  if (!box) { return; }
  var url = box.dataset.statusUrl;
  var INTERVAL_MS = 500;

  function show(job) {
    document.getElementById("import-progress").value = job.percent;
    document.getElementById("import-percent").textContent = job.percent + "%";
    document.getElementById("import-status").textContent = job.status;
    document.getElementById("import-failure").textContent = job.failure;
    box.querySelectorAll("[data-count]").forEach(function (el) {
      el.textContent = job[el.dataset.count];
    });
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (job) {
        show(job);
        if (job.status !== "done" && job.status !== "failed") {
          window.setTimeout(poll, INTERVAL_MS);
        }
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS * 4); });
  }

  poll();
}());
