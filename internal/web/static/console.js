// firebreak ops console: counts down to the response deadlines and fetches
// the live sections again every few seconds, unless a form is being filled
// in. Written for this console; no dependencies.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var skew = Date.parse(live.dataset.now) - Date.now();
  var poll = parseInt(live.dataset.poll, 10) || 5000;
  var dirty = false;
  live.addEventListener("input", function () { dirty = true; });
  live.addEventListener("submit", function () { dirty = false; });
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    var els = live.querySelectorAll(".countdown[data-due]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], st = el.dataset.state;
      if (st === "breached" || st === "acknowledged" || st === "") continue;
      var left = Math.round((Date.parse(el.dataset.due) - (Date.now() + skew)) / 1000);
      el.textContent = left <= 0 ? "due" : Math.floor(left / 60) + ":" + pad(left % 60) + " left";
      if (left <= 0) el.classList.add("breached");
    }
  }
  function busy() {
    var a = document.activeElement;
    return dirty || (a && live.contains(a) && /^(INPUT|TEXTAREA|SELECT)$/.test(a.tagName));
  }
  function refresh() {
    if (busy() || document.hidden) return;
    fetch("live", { credentials: "same-origin", headers: { "Accept": "text/html" } }).then(function (r) {
      if (!r.ok) throw new Error("console: " + r.status);
      return r.text();
    }).then(function (html) {
      if (busy()) return;
      var open = [];
      live.querySelectorAll("details[open]").forEach(function (d) { var a = d.closest("[id]"); if (a) open.push(a.id + ":" + d.querySelector("summary").textContent); });
      live.innerHTML = html;
      live.querySelectorAll("details").forEach(function (d) { var a = d.closest("[id]"); if (a && open.indexOf(a.id + ":" + d.querySelector("summary").textContent) >= 0) d.open = true; });
      live.dataset.updated = new Date().toISOString();
      tick();
    }).catch(function () { live.classList.add("stale"); });
  }
  tick();
  setInterval(tick, 1000);
  setInterval(refresh, poll);
})();
