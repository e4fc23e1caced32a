// The HTML report's charts (moetui/report/html.py inlines this after uPlot and the data).
(function () {
  const data = JSON.parse(document.getElementById("moetui-data").textContent);
  const width = () => Math.min(1140, document.body.clientWidth - 40);
  const colors = ["#3b73d9", "#e8710a", "#c5221f", "#1e8e3e", "#9334e6", "#607d8b"];
  const nonNull = (arr) => arr && arr.some((v) => v !== null && v !== undefined);
  function draw(id, opts, table) {
    const el = document.getElementById(id);
    if (!el) return;
    opts.width = width(); opts.height = opts.height || 300;
    new uPlot(opts, table, el);
  }
  const ms = (u, vals) => vals.map((v) => v == null ? "" : v + " ms");
  const s = data.seconds;
  if (s.t.length) {
    const series = [{label: "second"}], table = [s.t];
    [["p50", "p50 measured", 0, []], ["p99", "p99 measured", 1, []],
     ["p50c", "p50 corrected", 0, [6, 4]], ["p99c", "p99 corrected", 1, [6, 4]]].forEach(([k, label, c, dash]) => {
      if (nonNull(s[k])) { series.push({label, stroke: colors[c], dash, width: 2, spanGaps: true}); table.push(s[k]); }
    });
    draw("latency-time", {series, scales: {x: {time: false}}, axes: [{label: "second of the run"}, {label: "ms", values: ms, size: 70}]}, table);
    const codes = Object.keys(s.statuses || {});
    const byCode = codes.length > 1 ? codes : [];
    draw("throughput-time", {
      scales: {x: {time: false}},
      series: [{label: "second"}, {label: "ok/s", stroke: colors[3], fill: "rgba(30,142,62,0.12)", width: 2},
               {label: "failed/s", stroke: colors[2], fill: "rgba(197,34,31,0.15)", width: 2}]
        .concat(byCode.map((code, i) => ({label: code + "/s", stroke: colors[(i + 4) % colors.length], dash: [4, 3], width: 1.5}))),
      axes: [{label: "second of the run"}, {label: "requests per second", size: 60}],
    }, [s.t, s.ok, s.failed].concat(byCode.map((code) => s.statuses[code])));
  }
  const sp = data.spectrum;
  if (sp.x.length) {
    const labels = Object.keys(sp.series);
    // Ticks at the nines (0, 90, 99, 99.9 %...: x = 1, 10, 100, ...), as HdrHistogram's plotter labels them.
    const ninesSplits = (u) => { const out = []; for (let x = 1; x <= Math.max(10, u.scales.x.max * 1.0001); x *= 10) out.push(x); return out; };
    const nines = (u, vals) => vals.map((x) => x == null ? "" : (+(100 * (1 - 1 / x)).toPrecision(6)) + "%");
    draw("spectrum", {
      scales: {x: {time: false, distr: 3, log: 10}},
      series: [{label: "percentile", value: (u, x) => x == null ? "" : (100 * (1 - 1 / x)).toPrecision(6) + "%"}]
        .concat(labels.map((l, i) => ({label: l, stroke: colors[i], width: 2, spanGaps: true, points: {show: false}}))),
      axes: [{label: "percentile", values: nines, splits: ninesSplits, size: 50}, {label: "ms", values: ms, size: 70}],
    }, [sp.x].concat(labels.map((l) => sp.series[l])));
  }
  const sw = data.sweep;
  if (sw && sw.level.length) {
    const knee = {hooks: {draw: [(u) => {
      if (sw.knee == null) return;
      const x = u.valToPos(sw.knee, "x", true), ctx = u.ctx;
      ctx.save(); ctx.strokeStyle = "#c5221f"; ctx.setLineDash([5, 5]); ctx.lineWidth = 2;
      ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
      ctx.fillStyle = "#c5221f"; ctx.fillText("knee " + sw.knee, x + 4, u.bbox.top + 12); ctx.restore();
    }]}};
    draw("sweep", {
      plugins: [knee], scales: {x: {time: false}},
      series: [{label: "level"}, {label: sw.key + " ms", stroke: colors[1], width: 2, scale: "ms", points: {size: 7}},
               {label: "req/s", stroke: colors[0], width: 2, scale: "rps", points: {size: 7}}],
      axes: [{label: "level"}, {scale: "ms", label: sw.key + " ms", size: 70}, {scale: "rps", side: 1, label: "req/s", grid: {show: false}, size: 60}],
    }, [sw.level, sw.latency, sw.rps]);
  }
  document.body.setAttribute("data-charts", String(document.querySelectorAll(".uplot").length));
})();
