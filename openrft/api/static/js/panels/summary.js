// The job object: status, models, progress, the hyperparameters used.
import {el, fmt, when} from "../dom.js";

function progress(ctx) {
  const last = ctx.metrics.filter((m) => m.step > 0).pop();
  if (!last) return "–";
  const eta = ctx.job.estimated_finish && !ctx.terminal ? ", ETA " + when(ctx.job.estimated_finish) : "";
  return `step ${last.step} / ${last.total_steps}${eta}`;
}

export default {
  id: "summary",
  title: "Job",
  mount(body) { this.body = body; },
  update(ctx) {
    const job = ctx.job;
    const section = job.method ? job.method[job.method.type] : null;
    const hp = section ? section.hyperparameters : {};
    const rows = [
      ["status", el("span", {class: "status " + job.status, id: "job-status"}, job.status)],
      ["model", job.model],
      ["fine-tuned model", job.fine_tuned_model || "–"],
      ["progress", progress(ctx)],
      ["trained tokens", fmt(job.trained_tokens)],
      ["created", when(job.created_at)],
      ["finished", when(job.finished_at)],
      ["seed", String(job.seed)],
      ["hyperparameters", Object.entries(hp || {}).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ")],
    ];
    if (job.error && job.error.message) rows.push(["error", el("span", {class: "error"}, job.error.message)]);
    this.body.replaceChildren(el("dl", {class: "summary"},
      rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])));
  },
};
