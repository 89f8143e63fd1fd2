// The dashboard's few behaviours: remember the admin token for this tab, send flips and
// the kill switch to the admin API with it, draw the progress chart.
(function () {
  "use strict";
  var KEY = "strangler-admin-token";
  var tokenInput = document.getElementById("token");
  var box = document.getElementById("message");

  if (tokenInput) {
    tokenInput.value = sessionStorage.getItem(KEY) || "";
    tokenInput.addEventListener("change", function () {
      sessionStorage.setItem(KEY, tokenInput.value);
    });
  }

  function show(text, ok) {
    box.hidden = false;
    box.className = ok ? "ok" : "error";
    box.textContent = text;  // never innerHTML: answers are shown as text
  }

  function token() {
    return tokenInput ? tokenInput.value.trim() : "";
  }

  async function post(path, payload) {
    var headers = { "content-type": "application/json" };
    if (token()) { headers.authorization = "Bearer " + token(); }
    var resp = await fetch(path, { method: "POST", headers: headers, body: JSON.stringify(payload) });
    var data = {};
    try { data = await resp.json(); } catch (e) { data = { error: resp.statusText }; }
    return { status: resp.status, data: data };
  }

  async function submit(form) {
    var f = new FormData(form);
    var result;
    if (form.dataset.action === "flip") {
      var payload = {
        route: f.get("route"), mode: f.get("mode"), reason: f.get("reason"),
        force: f.get("force") === "on",
      };
      if (f.get("percent")) { payload.percent = f.get("percent"); }
      result = await post("/api/flip", payload);
      if (result.status === 200) {
        show("flipped " + result.data.route + ": " + result.data.from_mode + " -> " + result.data.to_mode + " (flip #" + result.data.id + ")", true);
        setTimeout(function () { location.reload(); }, 800);
        return;
      }
    } else {
      var engaged = form.dataset.engaged === "true";
      result = await post("/api/kill-switch", { engaged: engaged, reason: f.get("reason") });
      if (result.status === 200) {
        show(engaged ? "kill switch on: every route sent to legacy" : "kill switch released", true);
        setTimeout(function () { location.reload(); }, 800);
        return;
      }
    }
    show("refused (" + result.status + "): " + (result.data.error || "unknown error"), false);
  }

  function wire(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit(form).catch(function (err) { show("request failed: " + err, false); });
    });
  }
  document.querySelectorAll("form.write").forEach(wire);

  window.strangler = {
    chart: function (id) {
      var el = document.getElementById(id);
      if (!el || !window.Plotly) { return; }
      var fig = JSON.parse(el.dataset.figure);
      window.Plotly.newPlot(el, fig.data, fig.layout, { displaylogo: false, responsive: true });
    },
  };
  // A differences view scrolls each side to its first marked line (when it is unfolded).
  function toFirstMark(pre) {
    var mark = pre.querySelector("mark");
    if (mark) { pre.scrollTop = Math.max(0, mark.offsetTop - pre.offsetTop - 40); }
  }
  document.querySelectorAll(".diff-side").forEach(function (side) {
    var pre = side.querySelector(".diff-body");
    var folded = side.querySelector("details");
    if (!pre) { return; }
    if (folded) { folded.addEventListener("toggle", function () { toFirstMark(pre); }); }
    else { toFirstMark(pre); }
  });
    // Updates in place (no reload, no flicker): every `data-refresh` seconds the page is
  // fetched again and each `data-live` part replaced by its new version; the chart is
  // redrawn with Plotly.react. Skipped while someone is typing in a form.
  function busy() {
    var active = document.activeElement;
    if (active && active.closest && active.closest("form")) { return true; }
    return Array.prototype.some.call(document.querySelectorAll("form.write input[name=reason]"),
      function (input) { return input.value !== ""; });
  }
  async function refresh() {
    if (busy() || document.hidden) { return; }
    var resp = await fetch(location.href, { cache: "no-store", headers: { accept: "text/html" } });
    if (!resp.ok) { return; }
    var fresh = new DOMParser().parseFromString(await resp.text(), "text/html");
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var next = fresh.querySelector('[data-live="' + el.dataset.live + '"]');
      if (!next) { return; }
      if (el.dataset.figure !== undefined) {
        if (next.dataset.figure !== el.dataset.figure && window.Plotly) {
          el.dataset.figure = next.dataset.figure;
          var fig = JSON.parse(el.dataset.figure);
          window.Plotly.react(el, fig.data, fig.layout);
        }
      } else if (el.innerHTML !== next.innerHTML) {
        el.innerHTML = next.innerHTML;  // the server's own escaped HTML, same origin
        el.querySelectorAll("form.write").forEach(wire);
      }
    });
    document.body.dataset.refreshed = String(Date.now());
  }
  var every = parseFloat(document.body.dataset.refresh || "0");
  if (every > 0 && document.querySelector("[data-live]")) {
    setInterval(function () { refresh().catch(function () {}); }, every * 1000);
  }

  // Charts are drawn once every script has loaded: no inline script (the page's
  // Content-Security-Policy allows scripts from this origin only).
  window.addEventListener("load", function () {
    document.querySelectorAll("[data-figure][id]").forEach(function (el) {
      window.strangler.chart(el.id);
    });
  });
})();
