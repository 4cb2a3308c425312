/** The dashboard's one HTML page: the panels' skeleton; `app.js` fills them in. */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function dashboardPage(title: string): string {
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t}</title>
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body data-connection="connecting" data-subscriptions="pending">
<header>
  <h1>${t}</h1>
  <span id="connection" class="badge" data-state="connecting">connecting</span>
  <span id="broker" class="muted"></span>
  <span id="counts" class="muted"></span>
  <span id="problems" class="problem" hidden></span>
</header>
<main>
  <section id="devices-panel" class="panel wide">
    <h2>Devices</h2>
    <table id="devices">
      <thead><tr>
        <th>device</th><th>state</th><th>role</th><th>engine</th><th>load</th><th>queued</th>
        <th title="as configured (up / down, RTT)">link, nominal</th>
        <th title="what the planner learned from measured transfers (up / down, RTT)">link, estimated</th>
        <th title="announced (emulated) speed; the planner's effective estimate">speed, est.</th>
        <th title="current uplink while the device replays a bandwidth trace">trace uplink</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <p id="no-devices" class="muted">No device has published a status yet.</p>
  </section>
  <section id="jobs-panel" class="panel">
    <h2>Jobs</h2>
    <ul id="jobs" role="listbox" aria-label="jobs"></ul>
    <p id="no-jobs" class="muted">Jobs appear here as they are planned (the page sees jobs submitted after it opened).</p>
  </section>
  <section id="job-panel" class="panel grow">
    <h2>Job <span id="job-title" class="muted">— pick one</span></h2>
    <div id="job-summary" class="summary"></div>
    <div class="job-grid">
      <figure class="full">
        <figcaption>Task DAG, coloured by the device each task ran on; dashed edges cross the network (scroll to zoom) <span id="dag-legend" class="legend"></span></figcaption>
        <div id="dag" data-nodes="0" data-edges="0"></div>
      </figure>
      <figure>
        <figcaption>Timeline per device: transfer, wait and compute; measured rows beside predicted</figcaption>
        <div id="gantt" class="chart tall" data-bars="0" data-rows="0"><canvas></canvas></div>
      </figure>
      <figure>
        <figcaption>Energy per device for this job</figcaption>
        <div id="energy" class="chart" data-bars="0"><canvas></canvas></div>
      </figure>
    </div>
  </section>
  <section id="history-panel" class="panel wide">
    <h2>Over time</h2>
    <div class="history-grid">
      <figure>
        <figcaption>End-to-end latency and speed-up over running locally (predicted local time / measured)</figcaption>
        <div id="latency" class="chart" data-points="0"><canvas></canvas></div>
      </figure>
      <figure>
        <figcaption>Uplink bandwidth: the trace a device replays, and the planner's estimate <span id="trace-note" class="muted"></span></figcaption>
        <div id="bandwidth" class="chart" data-points="0"><canvas></canvas></div>
      </figure>
      <figure class="full">
        <figcaption>Queue and link backlog per device, as the planners see it: work placed and not yet finished (solid), time the data on its uplink (dashed) and downlink (dotted) still takes; "stages waiting" in the legend is the device's own count</figcaption>
        <div id="load" class="chart" data-points="0" data-devices="0"><canvas></canvas></div>
      </figure>
    </div>
  </section>
</main>
</body>
</html>
`;
}
