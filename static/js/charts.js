// Draws the dashboard's charts from the JSON the page embeds (never inline script), and fills the
// tables that are their text alternative. Chart.js is served by the project (static/vendor).
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var palette = ["#1d70b8", "#d4351c", "#00703c", "#f47738", "#4c2c92", "#28a197", "#b58840", "#505a5f"];
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;

  function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }
  function sum(list) { return list.reduce(function (a, b) { return a + b; }, 0); }

  // 1. Flags opened (solid) and resolved (dashed) per week, by rule.
  var flagSets = [];
  var rules = Object.keys(Object.assign({}, data.opened, data.resolved));
  rules.forEach(function (rule, i) {
    var colour = palette[i % palette.length];
    if (data.opened[rule]) flagSets.push({ label: rule.replace(/_/g, " ") + " opened", data: data.opened[rule], borderColor: colour, backgroundColor: colour, tension: 0.2 });
    if (data.resolved[rule]) flagSets.push({ label: rule.replace(/_/g, " ") + " resolved", data: data.resolved[rule], borderColor: colour, backgroundColor: colour, borderDash: [6, 4], tension: 0.2 });
  });
  new Chart(document.getElementById("chart-flags"), {
    type: "line",
    data: { labels: data.weeks, datasets: flagSets },
    options: { responsive: true, interaction: { mode: "index", intersect: false }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  var flagTable = document.getElementById("chart-flags-table");
  rules.forEach(function (rule) {
    var row = el("tr"); row.className = "govuk-table__row";
    var th = el("th", rule.replace(/_/g, " ")); th.className = "govuk-table__header"; th.scope = "row"; row.appendChild(th);
    [data.opened[rule] || [], data.resolved[rule] || []].forEach(function (s) { var td = el("td", String(sum(s))); td.className = "govuk-table__cell"; row.appendChild(td); });
    flagTable.appendChild(row);
  });
  document.getElementById("chart-flags-text").textContent = "Weeks from " + data.weeks[0] + " to " + data.weeks[data.weeks.length - 1] + ".";

  // 2. Was not brought per agency per month (stacked bars).
  var agencies = Object.keys(data.wnb_by_agency);
  new Chart(document.getElementById("chart-wnb"), {
    type: "bar",
    data: { labels: data.months, datasets: agencies.map(function (a, i) { return { label: a, data: data.wnb_by_agency[a], backgroundColor: palette[i % palette.length] }; }) },
    options: { responsive: true, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });
  var wnbTable = document.getElementById("chart-wnb-table");
  var head = el("tr"); head.className = "govuk-table__row"; head.appendChild(el("th", "Agency"));
  data.months.forEach(function (m) { head.appendChild(el("th", m)); });
  wnbTable.appendChild(head);
  agencies.forEach(function (a) {
    var row = el("tr"); row.className = "govuk-table__row"; row.appendChild(el("th", a));
    data.wnb_by_agency[a].forEach(function (n) { row.appendChild(el("td", String(n))); });
    wnbTable.appendChild(row);
  });

  // 3. Open prompts by age band.
  new Chart(document.getElementById("chart-ages"), {
    type: "bar",
    data: { labels: data.age_bands, datasets: [{ label: "Open prompts", data: data.age_counts, backgroundColor: ["#00703c", "#1d70b8", "#f47738", "#d4351c"] }] },
    options: { responsive: true, plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
})();
