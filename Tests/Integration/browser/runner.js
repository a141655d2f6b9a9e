// The page side of harness.py, shared by every test page: runs the cases named in ?tests= one after another and
// POSTs {"results": {...}} to /result; log() lines go to /log for failure reports.
const logEl = document.getElementById("log");

export const params = new URLSearchParams(location.search);
export const PROXY = params.get("proxy");

export function log(line) {
  logEl.textContent += "\n" + line;
  navigator.sendBeacon("/log", line);
}

export async function runCases(cases) {
  window.addEventListener("error", (e) => log(`page error: ${e.message}`));
  window.addEventListener("unhandledrejection", (e) => log(`unhandled rejection: ${e.reason}`));
  const results = {};
  for (const name of (params.get("tests") || "").split(",").filter(Boolean)) {
    const fn = cases[name];
    if (!fn) { results[name] = { error: `unknown test ${name}` }; continue; }
    try {
      results[name] = await fn();
      log(`${name}: done`);
    } catch (e) {
      results[name] = { error: `${e.name}: ${e.message}` };
      log(`${name}: ${e}`);
    }
  }
  await fetch("/result", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ userAgent: navigator.userAgent, results }),
  });
  logEl.textContent += "\nposted";
}
