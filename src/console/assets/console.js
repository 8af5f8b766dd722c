// The ivrc console's live layer. Pages work without it; it adds live rows and badges
// (Server-Sent Events from /console/events), local times, the SMS segment counter and the
// reply templates. No inline script: the Content Security Policy allows only this file.
"use strict";

(function () {
  const body = document.body;
  const live = document.getElementById("live");
  const timeline = document.getElementById("timeline");
  const list = document.getElementById("contact-list");

  // Times: the server writes UTC; show them in the browser's zone.
  function localize(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      const d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) {
        t.textContent = d.toLocaleString();
        t.title = t.getAttribute("datetime");
      }
    });
  }
  localize(document);

  function unreadTotal() {
    let n = 0;
    if (list) {
      list.querySelectorAll(".badge").forEach(function (b) {
        n += Number(b.dataset.unread || 0);
      });
    }
    const title = document.title.replace(/^\(\d+\) /, "");
    document.title = n > 0 ? "(" + n + ") " + title : title;
  }

  function setBadge(item, unread) {
    const badge = item.querySelector(".badge");
    if (!badge) return;
    badge.dataset.unread = String(unread);
    badge.firstChild.textContent = String(unread);
    badge.hidden = unread === 0;
  }

  function listItem(contact) {
    if (!list) return null;
    let item = null;
    list.querySelectorAll("li[data-contact]").forEach(function (li) {
      if (li.dataset.contact === contact) item = li;
    });
    if (!item) {
      item = document.createElement("li");
      item.dataset.contact = contact;
      const a = document.createElement("a");
      a.href = "/console/contacts/" + encodeURIComponent(contact);
      const number = document.createElement("span");
      number.className = "number";
      number.textContent = contact;
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.dataset.unread = "0";
      badge.hidden = true;
      badge.appendChild(document.createTextNode("0"));
      const hidden = document.createElement("span");
      hidden.className = "visually-hidden";
      hidden.textContent = " unread";
      badge.appendChild(hidden);
      a.append(number, badge);
      item.appendChild(a);
    }
    list.prepend(item);
    return item;
  }

  function setOptedOut(optedOut) {
    const composer = document.getElementById("composer");
    if (!composer) return;
    composer.querySelectorAll("textarea, button").forEach(function (el) {
      el.disabled = optedOut;
    });
    const state = document.getElementById("opt-state");
    if (state) state.textContent = optedOut ? "opted out" : "subscribed";
  }

  function onEntry(d) {
    const here = body.dataset.contact === d.contact;
    if (here && timeline && !document.getElementById("e" + d.id)) {
      timeline.insertAdjacentHTML("beforeend", d.html);
      localize(timeline.lastElementChild);
    }
    if (here && (d.kind === "opt-out" || d.kind === "opt-in")) setOptedOut(d.opted_out);
    const item = listItem(d.contact);
    if (item) setBadge(item, here ? 0 : d.unread);
    unreadTotal();
  }

  function onStatus(d) {
    if (!timeline) return;
    timeline.querySelectorAll("li.sms-out").forEach(function (row) {
      if (row.dataset.sid !== d.sid) return;
      let span = row.querySelector(".status");
      if (!span) {
        span = document.createElement("span");
        span.className = "status";
        row.appendChild(span);
      }
      span.dataset.status = d.status;
      span.textContent = d.status + (d.error_code ? " (error " + d.error_code + ")" : "");
    });
  }

  if (window.EventSource && live) {
    const source = new EventSource("/console/events?after=" + encodeURIComponent(body.dataset.after || "0"));
    source.onopen = function () {
      body.dataset.live = "open";
      live.textContent = "live";
    };
    source.onerror = function () {
      body.dataset.live = "reconnecting";
      live.textContent = "reconnecting…";
    };
    source.addEventListener("entry", function (e) { onEntry(JSON.parse(e.data)); });
    source.addEventListener("status", function (e) { onStatus(JSON.parse(e.data)); });
    source.addEventListener("reload", function () { location.reload(); });
  }

  // The SMS segment counter: GSM 03.38 (160 septets, 153 a part; extension characters take
  // two) or UCS-2 (70 units, 67 a part), as console/segments.rs counts.
  const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const EXTENDED = "\f^{}\\[~]|€";
  function segments(text) {
    let septets = 0;
    for (const c of text) {
      if (BASIC.includes(c)) septets += 1;
      else if (EXTENDED.includes(c)) septets += 2;
      else {
        const units = text.length;
        return { encoding: "UCS-2", units: units, parts: units === 0 ? 0 : units <= 70 ? 1 : Math.ceil(units / 67) };
      }
    }
    return { encoding: "GSM-7", units: septets, parts: septets === 0 ? 0 : septets <= 160 ? 1 : Math.ceil(septets / 153) };
  }
  const text = document.getElementById("body");
  const counter = document.getElementById("segments");
  function count() {
    const s = segments(text.value.replace(/\r\n/g, "\n"));
    counter.textContent = s.units + " " + (s.encoding === "GSM-7" ? "characters" : "UTF-16 units") +
      " · " + s.parts + " " + (s.parts === 1 ? "segment" : "segments") + " (" + s.encoding + ")";
  }
  if (text && counter) {
    text.addEventListener("input", count);
    count();
  }
  const templates = document.getElementById("reply-template");
  if (templates && text) {
    templates.addEventListener("change", function () {
      const insert = templates.value;
      if (!insert) return;
      const start = text.selectionStart, end = text.selectionEnd;
      text.value = text.value.slice(0, start) + insert + text.value.slice(end);
      text.selectionStart = text.selectionEnd = start + insert.length;
      templates.value = "";
      text.focus();
      count();
    });
  }
})();
