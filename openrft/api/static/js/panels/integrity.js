// Reward integrity: the job's preflight report (from its preflight event, or run on demand
// with this job's model, files, grader and hyperparameters) and the alarms raised in training.
import {post} from "../api.js";
import {el, fmt, table} from "../dom.js";

const pct = (x) => (typeof x === "number" ? (100 * x).toFixed(0) + "%" : "–");

function findings(report) {
  if (!report.findings.length) return el("p", {}, "No problems found.");
  return el("ul", {class: "findings"}, report.findings.map((f) =>
    el("li", {class: f.level}, el("strong", {}, f.level + " "), f.message)));
}

function numbers(report) {
  const g = report.groups, c = report.completions, h = report.grader, f = report.forecast;
  const rows = [
    ["learnable fraction", pct(g.learnable_fraction)],
    ["never solved / always solved", `${pct(g.never_solved_fraction)} / ${pct(g.always_solved_fraction)}`],
    ["pass rates (prompts)", g.pass_rate_histogram.map((b) => `${b.pass_rate}: ${b.prompts}`).join(" · ")],
    ["truncation rate", `${pct(c.truncation_rate)} at ${c.max_completion_tokens} tokens`],
    ["completion length p50 / p90", `${fmt(c.length_tokens.p50, 0)} / ${fmt(c.length_tokens.p90, 0)} tokens`],
    ["grader", `${fmt(1000 * h.seconds_per_sample, 1)} ms/sample · error rate ${pct(h.error_rate)} · ` +
               (h.determinism.deterministic ? "deterministic" : `${h.determinism.differing} samples graded differently`)],
    ["forecast", `${f.steps} steps · ${fmt(f.tokens)} tokens · about ${fmt(f.wall_time_s / 60, 1)} min`],
  ];
  return el("dl", {class: "summary"}, rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function probes(report) {
  const rows = report.probes.map((p) => el("tr", {class: p.flagged ? "probe flagged" : "probe"},
    el("td", {}, p.kind), el("td", {class: "num"}, fmt(p.reward_mean, 3)),
    el("td", {}, p.flagged ? "flagged" : ""), el("td", {}, el("pre", {class: "text"}, p.example))));
  return table([`probe (base median ${fmt(report.base_reward_median, 3)})`, "reward", "", "example"], rows);
}

function render(report) {
  return [
    el("p", {id: "preflight-verdict", class: "verdict " + report.verdict}, "Preflight verdict: " + report.verdict),
    findings(report), numbers(report), probes(report),
  ];
}

function alarms(ctx) {
  const raised = ctx.events.filter((e) => e.data && e.data.alarm).reverse();
  if (!raised.length) return el("p", {class: "muted", id: "alarms"}, "No alarms.");
  return el("ul", {id: "alarms", class: "findings"}, raised.map((e) =>
    el("li", {class: "warn"}, el("strong", {}, e.data.alarm + " "), e.message)));
}

function requestOf(job) {
  const section = job.method.reinforcement || {};
  return {
    model: job.model, training_file: job.training_file, validation_file: job.validation_file,
    seed: job.seed,
    method: {type: "reinforcement", reinforcement: {grader: section.grader, hyperparameters: section.hyperparameters}},
  };
}

export default {
  id: "integrity",
  title: "Reward integrity",
  mount(body, ctx) {
    this.report = el("div", {id: "preflight-report"});
    this.status = el("span", {class: "muted"});
    this.button = el("button", {id: "preflight-run", type: "button"}, "Run preflight on this job's settings");
    this.button.addEventListener("click", () => this.run(ctx));
    this.alarms = el("div", {});
    body.append(el("h3", {}, "Preflight"), el("div", {class: "controls"}, this.button, this.status),
                this.report, el("h3", {}, "Alarms"), this.alarms);
  },
  async run(ctx) {
    this.button.disabled = true;
    this.status.textContent = "sampling and grading the base model…";
    try {
      this.shown = await post("/fine_tuning/alpha/preflight", requestOf(ctx.job));
      this.report.replaceChildren(...render(this.shown));
      this.status.textContent = "";
    } catch (error) {
      this.status.textContent = "";
      this.report.replaceChildren(el("p", {class: "error"}, "Preflight: " + error.message));
    } finally {
      this.button.disabled = false;
    }
  },
  update(ctx) {
    const recorded = ctx.events.find((e) => e.data && e.data.preflight);
    if (recorded && !this.shown) {
      this.shown = recorded.data.preflight;
      this.report.replaceChildren(...render(this.shown));
    } else if (!this.shown) {
      this.report.replaceChildren(el("p", {class: "muted"}, "This job ran no preflight (method.reinforcement.preflight)."));
    }
    this.alarms.replaceChildren(alarms(ctx));
  },
};
