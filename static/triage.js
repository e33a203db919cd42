/* web4os triage: keyboard shortcuts on the board, in Needs you and on a card
   (j/k next/previous, o open, a approve, s send back, x select, ? the list).
   Items are [data-triage-item]; the current one is remembered by id across live swaps. */
(function () {
  "use strict";
  var currentId = null;

  function items() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-triage-item]"))
      .filter(function (el) { return el.offsetParent !== null || el.id === "card-detail"; });
  }

  function current() {
    var list = items();
    if (currentId) {
      var byId = document.getElementById(currentId);
      if (byId && list.indexOf(byId) >= 0) return byId;
    }
    return document.querySelector("[data-triage-item][data-current]") || null;
  }

  function select(el) {
    document.querySelectorAll("[data-triage-item].is-current").forEach(function (x) {
      if (x !== el) x.classList.remove("is-current");
    });
    if (!el) return;
    el.classList.add("is-current");
    currentId = el.id || null;
    var preview = el.querySelector("details.inbox-preview");
    if (preview) preview.open = true;
    var link = el.querySelector("[data-triage-open]");
    (link || el).focus({ preventScroll: true });
    el.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = items();
    if (!list.length) return;
    var i = list.indexOf(current());
    var next = i < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, i + step));
    select(list[next]);
  }

  function toggleHelp(force) {
    var box = document.getElementById("shortcuts");
    if (!box) return;
    var show = typeof force === "boolean" ? force : box.hidden;
    box.hidden = !show;
    if (show) box.focus();
  }

  function sendBack(el) {
    var details = el.querySelector("details.send-back");
    if (details) details.open = true;
    var box = el.querySelector("[data-triage-feedback]") || document.getElementById("f-feedback");
    if (box) box.focus();
  }

  function typing(target) {
    return target && target.closest && target.closest("input, textarea, select, [contenteditable]");
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.altKey || e.metaKey) return;
    var target = e.target;
    if (typing(target)) {
      if (e.key === "Escape") { target.blur(); var it = target.closest("[data-triage-item]"); if (it) select(it); }
      else if (e.key === "Enter" && e.ctrlKey && target.matches("[data-triage-feedback], #f-feedback") && target.form) {
        e.preventDefault();
        target.form.requestSubmit();
      }
      return;
    }
    if (e.ctrlKey) return;
    var el = current();
    switch (e.key) {
      case "?": toggleHelp(); break;
      case "Escape": toggleHelp(false); return;
      case "j": case "ArrowDown": {
        var onward = document.querySelector("[data-next-item]");  /* a card's page: go on */
        if (onward && e.key === "j") { onward.click(); break; }
        if (!items().length) return;
        move(1);
        break;
      }
      case "k": case "ArrowUp": if (!items().length) return; move(-1); break;
      case "o": case "Enter": {
        /* Enter opens only when nothing else has focus: on a link or button it is theirs */
        if (!el || (e.key === "Enter" && target !== document.body)) return;
        var link = el.querySelector("[data-triage-open]");
        if (!link) return;
        link.click();
        break;
      }
      case "a": {
        var approve = el && el.querySelector("[data-triage-approve]");
        if (!approve) return;
        approve.click();
        break;
      }
      case "s": if (!el) return; sendBack(el); break;
      case "x": {
        var box = el && el.querySelector("[data-triage-select]");
        if (!box) return;
        box.checked = !box.checked;
        box.dispatchEvent(new Event("input", { bubbles: true }));  /* holds the live poll */
        break;
      }
      default: return;
    }
    e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    if (e.target && e.target.closest && e.target.closest("[data-shortcuts-toggle]")) toggleHelp();
  });

  /* after a page load or a boosted navigation, the item the server marked opens */
  function arrive() {
    var marked = document.querySelector("[data-triage-item][data-current]:not(#card-detail)");
    currentId = null;
    if (marked) select(marked);
  }
  document.addEventListener("DOMContentLoaded", arrive);
  document.addEventListener("htmx:afterSettle", function (evt) {
    var elt = evt.detail && evt.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll")) {
      var keep = currentId && document.getElementById(currentId);
      if (keep) keep.classList.add("is-current");
      return;
    }
    arrive();
  });
})();
