// The progress page of silicio.web.preparing: ask /api/_progress every second, update the steps,
// and open the dashboard when the data is ready.
(function () {
  "use strict";
  function update(state) {
    var elapsed = document.getElementById("elapsed");
    if (elapsed) elapsed.textContent = Math.round(state.seconds);
    state.steps.forEach(function (step) {
      var item = document.querySelector('li[data-step="' + step.name + '"]');
      if (!item) return;
      item.className = "step " + step.state;
      var bar = item.querySelector("progress");
      bar.max = step.total || 1;
      bar.value = step.total ? step.done : (step.state === "done" ? 1 : 0);
      item.querySelector(".count").textContent = step.total ? step.done + " / " + step.total : "";
      item.querySelector(".state").textContent = step.state;
      item.querySelector(".detail").textContent = step.detail;
    });
    if (state.ready) window.location.reload();
  }
  function poll() {
    fetch("/api/_progress", { cache: "no-store" })
      .then(function (answer) { return answer.json(); })
      .then(function (state) { update(state); if (!state.ready && !state.error) setTimeout(poll, 1000); })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
