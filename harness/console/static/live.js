// The console's only script: keeps two things live by polling (no build step, no library).
// - an executions list's first page: re-fetch its rows twice a second, swap them if changed;
// - a running execution's page: poll its status, reload the page once it is no longer RUNNING.
"use strict";
const POLL_MS = 500;

function pollRows(tbody) {
  let last = tbody.innerHTML;
  const tick = async () => {
    try {
      const answer = await fetch(tbody.dataset.live, { cache: "no-store" });
      if (answer.ok) {
        const html = await answer.text();
        if (html !== last) { tbody.innerHTML = html; last = html; }
      }
    } catch (_) { /* the server restarts or the stack is down: try again next tick */ }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

function pollStatus(badge) {
  const tick = async () => {
    try {
      const answer = await fetch(badge.dataset.poll, { cache: "no-store" });
      if (answer.ok && (await answer.text()) !== "RUNNING") { location.reload(); return; }
    } catch (_) { /* as above */ }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

document.querySelectorAll("[data-live]").forEach(pollRows);
document.querySelectorAll("[data-poll]").forEach(pollStatus);
