/* web4os: small progressive enhancements on top of htmx (no inline scripts: CSP).
   Live regions ([data-poll]) are swapped every few seconds; this file keeps what the
   operator was doing intact across those swaps: open <details>, scroll positions inside
   columns, keyboard focus, and half-typed forms (no poll while editing). */
(function () {
  "use strict";
  var saved = null;

  function isPoll(evt) {
    var elt = evt.detail && evt.detail.elt;
    return !!(elt && elt.hasAttribute && elt.hasAttribute("data-poll"));
  }

  function editing(region) {
    var active = document.activeElement;
    if (active && region.contains(active) && active.matches("input, textarea, select")) return true;
    return !!region.querySelector("form[data-dirty]");
  }

  document.addEventListener("input", function (e) {
    var form = e.target && e.target.form;
    if (form) form.setAttribute("data-dirty", "");
  });

  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (!isPoll(evt)) return;
    if (document.hidden || editing(evt.detail.elt)) evt.preventDefault();
  });

  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (!isPoll(evt)) { saved = null; return; }
    var region = evt.detail.target;
    saved = { open: {}, scroll: {}, focus: null };
    region.querySelectorAll("details[data-keep-open][id]").forEach(function (d) { saved.open[d.id] = d.open; });
    region.querySelectorAll("[data-keep-scroll][id]").forEach(function (el) { saved.scroll[el.id] = el.scrollTop; });
    var active = document.activeElement;
    if (active && active.id && region.contains(active)) saved.focus = active.id;
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (!saved) return;
    var state = saved;
    saved = null;
    Object.keys(state.open).forEach(function (id) {
      var d = document.getElementById(id);
      if (d) d.open = state.open[id];
    });
    Object.keys(state.scroll).forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.scrollTop = state.scroll[id];
    });
    if (state.focus) {
      var f = document.getElementById(state.focus);
      if (f) f.focus({ preventScroll: true });
    }
  });

  /* the toast: errors from htmx requests land in #toast (see web/app.py) */
  var toastTimer = null;
  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) return;
    var inner = document.createElement("div");
    inner.className = "toast-inner";
    var p = document.createElement("p");
    p.textContent = message;
    var close = document.createElement("button");
    close.type = "button"; close.className = "toast-close"; close.textContent = "×";
    close.setAttribute("data-dismiss-toast", ""); close.setAttribute("aria-label", "Dismiss");
    inner.appendChild(p); inner.appendChild(close);
    box.replaceChildren(inner);
    armToast();
  }
  function armToast() {
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      var box = document.getElementById("toast");
      if (box) box.replaceChildren();
    }, 12000);
  }
  document.addEventListener("click", function (e) {
    if (e.target && e.target.closest && e.target.closest("[data-dismiss-toast]")) {
      var box = document.getElementById("toast");
      if (box) box.replaceChildren();
    }
  });
  document.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.detail.target && evt.detail.target.id === "toast") armToast();
  });
  document.addEventListener("htmx:sendError", function () {
    toast("Can't reach web4os right now. Check your connection; live pages keep trying by themselves.");
  });
  document.addEventListener("htmx:timeout", function () {
    toast("web4os is taking too long to answer. Try again in a moment.");
  });
  // Counters ([data-count-for]) under fields with a maxlength: "37 of 200 characters".
  // Without JavaScript the hint keeps saying the limit; the browser enforces it either way.
  function count(field) {
    var out = field && field.id && document.querySelector('[data-count-for="' + field.id + '"]');
    var limit = field && parseInt(field.getAttribute("maxlength"), 10);
    if (!out || !limit) return;
    var n = field.value.length;
    out.textContent = n.toLocaleString("en") + " of " + limit.toLocaleString("en") + " characters" +
      (n >= limit ? ": the limit" : "");
    out.classList.toggle("counter-full", n >= limit);
  }
  function countAll(root) {
    (root || document).querySelectorAll("[data-count-for]").forEach(function (out) {
      count(document.getElementById(out.getAttribute("data-count-for")));
    });
  }
  document.addEventListener("input", function (e) { count(e.target); });
  document.addEventListener("htmx:load", function (evt) { countAll(evt.detail.elt); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { countAll(document); });
  } else {
    countAll(document);
  }
  // Upload forms (data-upload): show how much of a large upload has been sent.
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var form = evt.target && evt.target.closest && evt.target.closest("form[data-upload]");
    var bar = form && form.querySelector("progress.upload-progress");
    if (!bar || !evt.detail.lengthComputable || evt.detail.total < 1000000) return;
    bar.hidden = false;
    bar.value = Math.round(100 * evt.detail.loaded / evt.detail.total);
  });
})();
