// The comparison page's chart (moetui/report/compare_html.py inlines this after uPlot and the data).
(function () {
  const data = JSON.parse(document.getElementById("moetui-data").textContent);
  const sp = data.spectrum, el = document.getElementById("spectrum");
  if (sp.x.length && el) {
    const labels = Object.keys(sp.series), colors = ["#3b73d9", "#e8710a"];
    // Ticks at the nines (0, 90, 99, 99.9 %...: x = 1, 10, 100, ...), as HdrHistogram's plotter labels them.
    const ninesSplits = (u) => { const out = []; for (let x = 1; x <= Math.max(10, u.scales.x.max * 1.0001); x *= 10) out.push(x); return out; };
    const nines = (u, vals) => vals.map((x) => x == null ? "" : (+(100 * (1 - 1 / x)).toPrecision(6)) + "%");
    new uPlot({
      width: Math.min(1140, document.body.clientWidth - 40), height: 320,
      scales: {x: {time: false, distr: 3, log: 10}},
      series: [{label: "percentile", value: (u, x) => x == null ? "" : (100 * (1 - 1 / x)).toPrecision(6) + "%"}]
        .concat(labels.map((l, i) => ({label: l, stroke: colors[i], width: 2, spanGaps: true, points: {show: false}}))),
      axes: [{label: "percentile", values: nines, splits: ninesSplits, size: 50}, {label: "ms", size: 70, values: (u, v) => v.map((x) => x + " ms")}],
    }, [sp.x].concat(labels.map((l) => sp.series[l])), el);
  }
  document.body.setAttribute("data-charts", String(document.querySelectorAll(".uplot").length));
})();
