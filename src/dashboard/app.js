// The served dashboard's script (`execq dashboard --serve`): keeps the page's live part current
// and sends its buttons' requests (retry, rerun, cancel, hold, release; pause and resume). Served from /app.js; the page's CSP runs no
// other script. Job text only ever arrives already escaped by the server.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token") || "";
  const dot = document.getElementById("live-dot");
  const text = document.getElementById("msg-text");
  const msg = document.getElementById("msg");
  let last = "";
  let busy = false;

  function say(message, bad) {
    text.textContent = message;
    msg.className = bad ? "error" : "muted";
  }

  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const r = await fetch("/partial", { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const html = await r.text();
      dot.className = "live on";
      if (html === last) return;
      last = html;
      const live = document.getElementById("live");
      const open = new Set(Array.from(live.querySelectorAll("details[open]"), (d) => d.id));
      live.innerHTML = html;
      for (const id of open) {
        const d = document.getElementById(id);
        if (d) d.open = true;
      }
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    } catch (e) {
      dot.className = "live off";
      say("disconnected from execq (" + e.message + "); retrying", true);
    } finally {
      busy = false;
    }
  }

  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    ev.preventDefault();
    const act = b.dataset.act;
    const job = b.dataset.job;
    const group = b.dataset.queue ? "?group=" + encodeURIComponent(b.dataset.queue) : "";
    const url = b.dataset.queue !== undefined
      ? "/api/queue/" + act + group
      : "/api/jobs/" + encodeURIComponent(job) + "/" + act;
    b.disabled = true;
    try {
      const headers = token ? { "X-Execq-Token": token } : {};
      const r = await fetch(url, {
        method: "POST",
        headers,
      });
      const body = await r.json().catch(() => ({}));
      say(body.message || body.error || act + ": HTTP " + r.status, !r.ok);
    } catch (e) {
      say(act + " failed: " + e.message, true);
    } finally {
      b.disabled = false;
      refresh();
    }
  });

  if (!token) say("read-only: open the URL execq printed (with its token) to change the queue", false);
  setInterval(refresh, 2000);
})();
