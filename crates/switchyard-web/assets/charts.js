// The dashboard's live charts: follows /admin/live (server-sent events) and draws each
// figure.chart's series as SVG polylines. A series is "field" or "field.index" of a sample;
// "messages.*" plots every route that carried messages in the window.
"use strict";
(function () {
  const COLORS = ["--c0", "--c1", "--c2", "--c3", "--c4", "--c5"].map(
    (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#2563eb");
  const KEPT = 300;
  const samples = [];
  const charts = [...document.querySelectorAll("figure.chart")].map((figure) => ({
    figure,
    svg: figure.querySelector("svg"),
    now: figure.querySelector(".now"),
    legend: figure.querySelector(".legend"),
    series: figure.dataset.series.split(";").map((pair) => {
      const [key, label] = pair.split("=");
      return { key, label };
    }),
  }));

  function value(sample, key) {
    if (key.endsWith(".sum")) return Object.values(sample[key.slice(0, -4)] || {}).reduce((a, b) => a + b, 0);
    let v = sample;
    for (const part of key.split(".")) v = v == null ? null : v[part];
    if (key === "memory_bytes" && v != null) v = v / 1048576;
    return typeof v === "number" ? v : null;
  }

  // The series a chart plots now: "messages.*" becomes the routes with traffic.
  function expand(chart) {
    const out = [];
    for (const s of chart.series) {
      if (s.key.endsWith(".*")) {
        const field = s.key.slice(0, -2);
        const routes = new Set();
        for (const sample of samples)
          for (const [route, rate] of Object.entries(sample[field] || {})) if (rate > 0) routes.add(route);
        for (const route of [...routes].sort()) out.push({ label: route, get: (x) => (x[field] || {})[route] ?? 0 });
      } else {
        out.push({ label: s.label, get: (x) => value(x, s.key) });
      }
    }
    return out;
  }

  function format(v) {
    if (v == null) return "—";
    return Math.abs(v) >= 100 || Number.isInteger(v) ? Math.round(v).toString() : v.toFixed(1);
  }

  // The newest sample at the right edge; a short history is not stretched over the width.
  const WINDOW_MIN = 60;

  function draw(chart) {
    const series = expand(chart);
    let peak = 0;
    for (const s of series) for (const x of samples) peak = Math.max(peak, s.get(x) ?? 0);
    const max = peak > 0 ? peak * 1.1 : 1;
    const width = Math.max(samples.length, WINDOW_MIN) - 1;
    const offset = width - (samples.length - 1);
    const ns = "http://www.w3.org/2000/svg";
    chart.svg.replaceChildren();
    chart.legend.replaceChildren();
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const points = [];
      samples.forEach((x, j) => {
        const v = s.get(x);
        if (v != null) points.push(`${((offset + j) / width) * 300},${100 - (v / max) * 100}`);
      });
      const line = document.createElementNS(ns, "polyline");
      line.setAttribute("points", points.join(" "));
      line.setAttribute("stroke", color);
      chart.svg.appendChild(line);
      const item = document.createElement("span");
      const swatch = document.createElement("i");
      swatch.style.background = color;
      const last = samples.length ? s.get(samples[samples.length - 1]) : null;
      item.append(swatch, `${s.label} ${format(last)}`);
      chart.legend.appendChild(item);
    });
    if (!series.length) chart.legend.textContent = "none yet";
    chart.now.textContent = `peak ${format(peak)}`;
    chart.figure.dataset.samples = samples.length;
  }

  // The numbers above the charts follow the latest sample too.
  const numbers = [...document.querySelectorAll("[data-field]")];

  function drawAll() {
    charts.forEach(draw);
    const latest = samples[samples.length - 1];
    if (latest) for (const n of numbers) n.textContent = format(value(latest, n.dataset.field));
  }

  if (!charts.length || !window.EventSource) return;
  const events = new EventSource("/admin/live");
  events.addEventListener("history", (e) => {
    samples.splice(0, samples.length, ...JSON.parse(e.data).slice(-KEPT));
    drawAll();
  });
  events.addEventListener("sample", (e) => {
    samples.push(JSON.parse(e.data));
    if (samples.length > KEPT) samples.shift();
    drawAll();
  });
})();
