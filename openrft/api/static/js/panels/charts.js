// Per-step training metrics as uPlot line charts (vendored under /static/vendor/uplot).
import uPlot from "/static/vendor/uplot/uPlot.esm.js";
import {el} from "../dom.js";

const COLORS = ["#175cd3", "#17803d", "#c4320a", "#7a5af8", "#8a6100"];

// Title → the metrics-event keys it plots (PRODUCT.md names).
const CHARTS = [
  ["Reward (train, validation)", ["train_reward_mean", "valid_reward_mean"]],
  ["Reward std", ["train_reward_std", "valid_reward_std"]],
  ["KL to the reference", ["actor_kl"]],
  ["Entropy", ["actor_entropy"]],
  ["Clip fractions", ["actor_pg_clipfrac", "clip_ratio/low_mean", "clip_ratio/high_mean"]],
  ["Response length (tokens)", ["response_length_mean"]],
  ["Truncation rate", ["completions/clipped_ratio"]],
  ["Monitor grader (never trains)", ["train_reward_mean", "monitor/reward_mean", "valid_monitor_reward_mean"]],
  ["Repetition rate (token 4-grams)", ["completions/repetition_rate"]],
  ["Grader error rate", ["grader_error_rate"]],
  ["Zero-variance groups", ["frac_reward_zero_std"]],
  ["Step time (s)", ["step_time_s"]],
  ["Rollout tokens/s", ["rollout_tokens_per_s"]],
  ["Policy loss and grad norm", ["actor_pg_loss", "actor_grad_norm"]],
];

function graderKeys(metrics) {
  const keys = new Set();
  metrics.forEach((m) => Object.keys(m).forEach((k) => { if (k.startsWith("grader/")) keys.add(k); }));
  return [...keys].sort();
}

function columns(metrics, keys) {
  const steps = metrics.map((m) => m.step);
  const series = keys.map((k) => metrics.map((m) => (typeof m[k] === "number" ? m[k] : null)));
  return [steps, ...series];
}

function makePlot(box, keys, width) {
  const opts = {
    width, height: 190,
    scales: {x: {time: false}},
    legend: {live: false},
    // Steps are integers: never tick between them.
    axes: [{label: "step", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]}, {size: 56}],
    series: [{label: "step"}, ...keys.map((k, i) => ({
      label: k, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, points: {size: 5},
    }))],
  };
  return new uPlot(opts, [[], ...keys.map(() => [])], box);
}

export default {
  id: "charts",
  title: "Training metrics",
  mount(body) {
    this.grid = el("div", {class: "charts"});
    body.append(this.grid);
    this.charts = new Map();
    window.addEventListener("resize", () => {
      for (const {card, plot} of this.charts.values()) plot.setSize({width: card.clientWidth, height: 190});
    });
  },
  chart(title, keys) {
    const name = title + "|" + keys.join(",");
    if (!this.charts.has(name)) {
      const box = el("div", {});
      const empty = el("div", {class: "empty"}, "no data yet");
      const card = el("div", {class: "chart", "data-chart": title, "data-points": "0"}, el("h3", {}, title), box, empty);
      this.grid.append(card);
      this.charts.set(name, {card, empty, plot: makePlot(box, keys, card.clientWidth || 380)});
    }
    return this.charts.get(name);
  },
  update(ctx) {
    const specs = [...CHARTS];
    const graders = graderKeys(ctx.metrics);
    if (graders.length) specs.push(["Grader sub-scores", graders]);
    // Supervised and DPO jobs report losses instead of rewards.
    if (ctx.metrics.some((m) => "train_loss" in m)) specs.unshift(["Loss (train, validation)", ["train_loss", "valid_loss"]]);
    for (const [title, keys] of specs) {
      const data = columns(ctx.metrics, keys);
      const points = data.slice(1).reduce((n, s) => n + s.filter((v) => v !== null).length, 0);
      const chart = this.chart(title, keys);
      chart.plot.setData(data);
      chart.card.setAttribute("data-points", String(points));
      chart.empty.hidden = points > 0;
    }
  },
};
