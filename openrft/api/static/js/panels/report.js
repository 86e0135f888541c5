// The before/after report: base model vs the chosen checkpoint on the validation items.
import {ApiError, api} from "../api.js";
import {el, fmt, table} from "../dom.js";

function interval(side) {
  const ci = side.ci95 ? ` [${fmt(side.ci95[0])}, ${fmt(side.ci95[1])}]` : "";
  return [fmt(side.reward_mean), el("span", {class: "ci"}, ci)];
}

function render(report) {
  const method = report.interval_method === "wilson_newcombe"
    ? "Wilson intervals, Newcombe paired difference" : "Student's t over per-item means, paired t";
  const rows = [
    el("tr", {}, el("td", {}, "base ", el("code", {}, report.base_model)), el("td", {class: "num"}, interval(report.base))),
    el("tr", {}, el("td", {}, `step ${report.step} `, el("code", {}, report.tuned_model)), el("td", {class: "num"}, interval(report.tuned))),
    el("tr", {}, el("td", {}, "difference (tuned − base)"),
       el("td", {class: "num", id: "report-difference"}, interval(report.difference),
          report.difference.excludes_zero ? " ✓ excludes 0" : "")),
  ];
  const changed = report.most_changed.map((item) => el("tr", {},
    el("td", {class: "num"}, item.item), el("td", {class: "num"}, fmt(item.base_reward, 3)),
    el("td", {class: "num"}, fmt(item.tuned_reward, 3)), el("td", {class: "num"}, fmt(item.change, 3)),
    el("td", {}, el("pre", {class: "text"}, item.base_completion)),
    el("td", {}, el("pre", {class: "text"}, item.tuned_completion))));
  return [
    el("p", {}, `${report.n_items} validation items × ${report.samples_per_item} samples, same prompts and seeds; 95% intervals (${method}).`),
    table(["model", "mean reward [95% interval]"], rows),
    el("p", {id: "report-wlt"}, `${report.wins} wins · ${report.losses} losses · ${report.ties} ties`),
    changed.length ? el("h3", {}, "Items that changed most") : null,
    changed.length ? table(["item", "base", "tuned", "change", "base completion", "tuned completion"], changed) : null,
    el("p", {class: "muted"}, report.note),
  ];
}

export default {
  id: "report",
  title: "Before / after",
  mount(body) { this.body = body; this.done = false; },
  async update(ctx) {
    if (this.done) return;
    if (!ctx.terminal) { this.body.replaceChildren(el("p", {class: "muted"}, "Written when the job succeeds.")); return; }
    try {
      const report = await api(`/fine_tuning/jobs/${encodeURIComponent(ctx.jobId)}/report`);
      this.body.replaceChildren(...render(report).filter(Boolean));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      this.body.replaceChildren(el("p", {class: "muted"}, "No report for this job."));
    }
    this.done = true;
  },
};
