// Live status: refresh the counters of /status every 5 seconds. When failures or quarantined
// files change, reload the page so that their lists (with reasons and 重试 buttons) follow.
(function () {
  "use strict";
  var table = document.querySelector("[data-poll]");
  if (!table) { return; }
  function cell(key) { return document.querySelector('[data-k="' + key + '"]'); }
  var seen = { failed: cell("failed").textContent, quarantined: cell("quarantined").textContent };
  function tick() {
    fetch(table.dataset.poll, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (r.redirected || !r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (st) {
        if (String(st.failed) !== seen.failed || String(st.quarantined) !== seen.quarantined) {
          window.location.reload();
          return;
        }
        var banner = document.querySelector('[data-show="paused"]');
        if (banner) { banner.hidden = !st.paused; }  // disk space: paused and resumed live
        Object.keys(st).forEach(function (key) {
          var el = cell(key);
          if (!el) { return; }
          el.textContent = key === "pages_per_minute" ? Number(st[key]).toFixed(1)
            : key === "at" ? "（" + new Date(st[key]).toLocaleTimeString("zh-CN") + "）" : String(st[key]);
        });
      })
      .catch(function () { cell("at").textContent = "（连接中断，稍后重试）"; });
  }
  window.setInterval(tick, 5000);
})();
