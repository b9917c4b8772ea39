// Keepalive: small progressive enhancements. Every page works without this
// file; it only adds conveniences: copy buttons, the custom donation
// amount, the invoice page's countdown and live switch to "paid", and the
// poller that moves wallet pages on once the wallet has answered.
// No data is ever put in the page as HTML: text goes in with textContent.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="ID" hidden> copies the text of the
  // element with that id. The button stays hidden without JS, where the
  // text can still be selected by hand.
  function setupCopy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) {
      return;
    }
    var label = button.textContent;
    var status = document.getElementById(button.getAttribute("data-copy") + "-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = (target.value !== undefined ? target.value : target.textContent).trim();
      navigator.clipboard.writeText(text).then(function () {
        button.textContent = "Copied";
        if (status) {
          status.textContent = "Copied to the clipboard.";
        }
        window.setTimeout(function () {
          button.textContent = label;
        }, 2000);
      }, function () {
        if (status) {
          status.textContent = "Could not copy: select the text and copy it by hand.";
        }
      });
    });
  }

  // Clicking a secret selects all of it, so copying by hand is one step.
  function setupSelectAll(el) {
    el.addEventListener("click", function () {
      if (typeof el.select === "function") {
        el.select(); // textarea, input
        return;
      }
      var range = document.createRange();
      range.selectNodeContents(el);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    });
  }

  // The address field (data-slug-from="ID") is suggested from the name
  // as it is typed, as the server would (lower-case letters, digits and
  // dashes, at most 40), until the owner types an address of their own.
  function setupSlugSuggestion(slug) {
    var name = document.getElementById(slug.getAttribute("data-slug-from"));
    if (!name) {
      return;
    }
    var edited = slug.value !== "";
    slug.addEventListener("input", function () {
      edited = slug.value !== "";
    });
    name.addEventListener("input", function () {
      if (edited) {
        return;
      }
      var s = name.value.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
        .replace(/[^a-z0-9]+/g, "-").replace(/^-+/, "").slice(0, 40).replace(/-+$/, "");
      slug.value = s;
    });
  }

  // Times (<time datetime data-local>) are written in UTC by the server;
  // here they read as people think of them: relative within a week ("in
  // 7 days", "3 hours ago"), else the local date and time, short enough
  // for a table cell. The title holds the full local time and the UTC
  // text the server wrote.
  var relUnits = [["day", 864e5], ["hour", 36e5], ["minute", 6e4]];
  function relative(ms) {
    if (typeof Intl === "undefined" || !Intl.RelativeTimeFormat || Math.abs(ms) >= 7 * 864e5) {
      return "";
    }
    var rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
    for (var i = 0; i < relUnits.length; i++) {
      if (Math.abs(ms) >= relUnits[i][1] || relUnits[i][0] === "minute") {
        return rtf.format(Math.round(ms / relUnits[i][1]), relUnits[i][0]);
      }
    }
    return "";
  }
  function setupLocalTime(el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when.getTime())) {
      return;
    }
    var short = { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
    if (when.getFullYear() !== new Date().getFullYear()) {
      short.year = "numeric";
    }
    var utc = el.textContent.trim();
    el.title = when.toLocaleString(undefined, { dateStyle: "full", timeStyle: "short" }) + " · " + utc;
    el.textContent = relative(when.getTime() - Date.now()) || when.toLocaleString(undefined, short);
  }

  // Typing a name for the donor wall chooses "show", unless the donor
  // has already chosen: they typed it to be seen. The choice stays one
  // click away.
  function setupWallName(input) {
    var show = document.getElementById("donor-public");
    var anon = document.getElementById("donor-anonymous");
    if (!show || !anon) {
      return;
    }
    var chosen = false;
    [show, anon].forEach(function (r) {
      r.addEventListener("change", function () {
        chosen = true;
      });
    });
    input.addEventListener("input", function () {
      if (!chosen && input.value.trim() !== "") {
        show.checked = true;
      }
    });
  }

  // Typing a custom donation amount chooses "Other amount", so the
  // number typed is the number given.
  function setupCustomAmount(input) {
    var radio = document.getElementById("amount-custom");
    if (!radio) {
      return;
    }
    function choose() {
      if (input.value.trim() !== "") {
        radio.checked = true;
      }
    }
    input.addEventListener("input", choose);
    input.addEventListener("focus", function () {
      radio.checked = true;
    });
  }

  // formatClock matches templates' countdown(): "59:12", "1:05:00".
  function formatClock(secs) {
    var h = Math.floor(secs / 3600);
    var m = Math.floor(secs / 60) % 60;
    var s = secs % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return h > 0 ? h + ":" + two(m) + ":" + two(s) : m + ":" + two(s);
  }

  var reloading = false;
  function reload() {
    if (!reloading) {
      reloading = true;
      window.location.reload();
    }
  }

  // The countdown counts from the seconds the server rendered, not from
  // the visitor's clock, which may be wrong. At zero the page reloads
  // once to show the server's verdict.
  function setupCountdown(el, block) {
    var total = parseInt(el.getAttribute("data-seconds-left"), 10);
    if (isNaN(total)) {
      return;
    }
    var started = Date.now();
    var timer = window.setInterval(function () {
      if (block.getAttribute("data-state") !== "open") {
        window.clearInterval(timer);
        return;
      }
      var left = Math.max(0, total - Math.floor((Date.now() - started) / 1000));
      el.textContent = formatClock(left);
      if (left === 0) {
        window.clearInterval(timer);
        if (total > 0) {
          reload();
        }
      }
    }, 1000);
  }

  // showPaid builds the same panel as templates' invoicePaid.
  function showPaid(block, paidText) {
    var panel = document.createElement("div");
    panel.className = "result result--paid";
    panel.setAttribute("data-testid", "paid");
    panel.setAttribute("role", "status");
    var icon = document.createElement("span");
    icon.className = "result__icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = "\u2713";
    var text = document.createElement("p");
    text.className = "result__text";
    text.textContent = paidText;
    var actions = document.createElement("p");
    actions.className = "result__actions";
    var back = document.createElement("a");
    back.className = "button";
    back.setAttribute("data-testid", "back-link");
    back.href = block.getAttribute("data-back") || "/";
    back.textContent = block.getAttribute("data-back-label") || "Back";
    actions.appendChild(back);
    panel.append(icon, text, actions);

    block.replaceChildren(panel);
    block.setAttribute("data-state", "settled");
    var share = document.getElementById("share");
    if (share) {
      share.hidden = false;
    }
    block.className = "invoice-state invoice-state--settled";
  }

  // An open invoice listens for its fate: "paid" swaps in the thank-you,
  // "expired" reloads. Where the stream cannot be had, the page polls by
  // reloading, as it does without JavaScript.
  function setupInvoice(block) {
    if (block.getAttribute("data-state") !== "open") {
      return;
    }
    var countdown = block.querySelector("[data-seconds-left]");
    if (countdown) {
      setupCountdown(countdown, block);
    }
    var url = block.getAttribute("data-events");
    if (!url) {
      return;
    }
    if (!window.EventSource) {
      window.setTimeout(reload, 5000);
      return;
    }
    var source = new EventSource(url);
    source.addEventListener("paid", function (ev) {
      source.close();
      var data;
      try {
        data = JSON.parse(ev.data);
      } catch (e) {
        data = null;
      }
      if (data && data.state === "settled" && typeof data.paid_text === "string" && data.paid_text !== "") {
        showPaid(block, data.paid_text);
      } else {
        reload();
      }
    });
    source.addEventListener("expired", function () {
      source.close();
      reload();
    });
    source.addEventListener("error", function () {
      // The browser retries by itself while the stream is CONNECTING;
      // CLOSED means it gave up (a 4xx/5xx answer): poll instead.
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(reload, 5000);
      }
    });
  }

  // Pollers: an element with data-poll-url asks that URL every 2 s for
  // {"ready": true}; then it submits the form whose id is in
  // data-poll-submit, or reloads the page. Only same-origin URLs, and it
  // gives up after 10 minutes, when the wallet's challenge has expired.
  var pollEvery = 2000;
  var pollFor = 10 * 60 * 1000;

  function setupPoller(el) {
    if (!window.fetch) {
      return;
    }
    var url;
    try {
      url = new URL(el.getAttribute("data-poll-url"), window.location.href);
    } catch (e) {
      return;
    }
    if (url.origin !== window.location.origin) {
      return;
    }
    var formID = el.getAttribute("data-poll-submit");
    var form = formID ? document.getElementById(formID) : null;
    if (formID && (!form || form.tagName !== "FORM")) {
      return;
    }
    var started = Date.now();
    var done = false;

    function say(state, message) {
      el.setAttribute("data-poll-state", state);
      el.textContent = message;
    }

    function finish() {
      done = true;
      say("ready", "Approved. One moment\u2026");
      if (form) {
        form.submit();
      } else {
        reload();
      }
    }

    function tick() {
      if (done) {
        return;
      }
      if (Date.now() - started > pollFor) {
        say("expired", "This code has expired: reload the page for a new one.");
        return;
      }
      if (document.hidden) {
        window.setTimeout(tick, pollEvery);
        return;
      }
      window.fetch(url.href, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Accept": "application/json" }
      }).then(function (res) {
        return res.ok ? res.json() : null;
      }).then(function (data) {
        if (data && data.ready === true) {
          finish();
        } else {
          window.setTimeout(tick, pollEvery);
        }
      }, function () {
        window.setTimeout(tick, pollEvery);
      });
    }

    say("waiting", "Waiting for your wallet\u2026 This page moves on by itself once you approve.");
    window.setTimeout(tick, pollEvery);
  }

  function init() {
    document.querySelectorAll("button[data-copy]").forEach(setupCopy);
    document.querySelectorAll("[data-select-all]").forEach(setupSelectAll);
    document.querySelectorAll("[data-custom-amount]").forEach(setupCustomAmount);
    document.querySelectorAll("[data-slug-from]").forEach(setupSlugSuggestion);
    document.querySelectorAll("[data-wall-name]").forEach(setupWallName);
    document.querySelectorAll("time[data-local]").forEach(setupLocalTime);
    document.querySelectorAll("[data-poll-url]").forEach(setupPoller);
    var invoice = document.getElementById("invoice-state");
    if (invoice) {
      setupInvoice(invoice);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
