// scrubctl dashboard: live updates without reloading. The server says "changed"
// over Server-Sent Events; the page is fetched again and every live region
// (data-live-region, by id) is replaced. Forms outside the regions are untouched.
"use strict";
(function () {
  const url = document.body.dataset.live;
  if (!url || !window.EventSource) { return; }
  const status = document.getElementById("live-state");
  const say = (text) => { if (status) { status.textContent = text; } };
  let busy = false, again = false;

  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(window.location.href, {
        credentials: "same-origin", headers: { "Accept": "text/html" }, redirect: "manual" });
      if (response.type === "opaqueredirect" || response.status === 401) {
        window.location.assign("/login?why=ended");
        return;
      }
      if (!response.ok) { say("update failed (" + response.status + ")"); return; }
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const fresh of doc.querySelectorAll("[data-live-region]")) {
        const current = document.getElementById(fresh.id);
        if (current) { current.replaceWith(document.importNode(fresh, true)); }
      }
      say("live · updated " + new Date().toLocaleTimeString());
    } catch (err) {
      say("update failed");
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }

  const source = new EventSource(url);
  source.addEventListener("open", () => say("live"));
  source.addEventListener("changed", refresh);
  source.addEventListener("ended", () => { source.close(); window.location.assign("/login?why=ended"); });
  source.addEventListener("error", () => say("reconnecting…"));
})();
