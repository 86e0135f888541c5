// Graded rollouts of one step: filter by split, step and reward; sub-scores per sample.
import {api, query} from "../api.js";
import {el, fmt} from "../dom.js";

const PAGE = 50;
const HEADERS = ["step", "item", "#", "reward", "sub-scores", "advantage", "finish", "tokens", "prompt", "completion"];

function lastUserText(prompt) {
  const user = [...(prompt || [])].reverse().find((m) => m.role === "user") || {};
  return typeof user.content === "string" ? user.content : JSON.stringify(user.content);
}

function sampleRow(s) {
  const scores = Object.entries(s.scores || {}).map(([k, v]) => `${k}=${fmt(v, 3)}`).join(" ");
  return el("tr", {class: "sample", "data-reward": String(s.reward)},
    el("td", {class: "num"}, s.step), el("td", {class: "num"}, s.item), el("td", {class: "num"}, s.sample),
    el("td", {class: "num reward"}, fmt(s.reward, 3)),
    el("td", {}, scores || "–", s.errors.length ? el("div", {class: "error"}, s.errors.join(", ")) : null),
    el("td", {class: "num"}, s.advantage === null ? "–" : fmt(s.advantage, 3)),
    el("td", {}, s.finish_reason), el("td", {class: "num"}, s.completion_tokens),
    el("td", {}, el("pre", {class: "text"}, lastUserText(s.prompt))),
    el("td", {}, el("pre", {class: "text"}, s.completion)));
}

export default {
  id: "samples",
  title: "Samples",
  mount(body, ctx) {
    this.ctx = ctx;
    this.split = el("select", {id: "samples-split"}, el("option", {value: "valid"}, "validation"),
                    el("option", {value: "train"}, "train"));
    this.step = el("select", {id: "samples-step"});
    this.min = el("input", {id: "samples-min", type: "number", step: "any", placeholder: "any"});
    this.max = el("input", {id: "samples-max", type: "number", step: "any", placeholder: "any"});
    this.split.addEventListener("change", () => { this.fillSteps(true); this.load(); });
    this.step.addEventListener("change", () => this.load());
    const apply = el("button", {id: "samples-apply", type: "button", onclick: () => this.load()}, "Filter");
    this.info = el("span", {class: "muted", id: "samples-info"});
    this.rows = el("tbody", {});
    this.more = el("button", {type: "button", id: "samples-more", hidden: "", onclick: () => this.load(true)}, "More");
    const label = (text, input) => el("label", {}, text, input);
    body.append(
      el("div", {class: "controls"}, label("split", this.split), label("step", this.step),
         label("min reward", this.min), label("max reward", this.max), apply, this.info),
      el("table", {id: "samples-table"},
         el("thead", {}, el("tr", {}, HEADERS.map((h) => el("th", {}, h)))), this.rows),
      this.more);
    this.steps = "";
  },
  stepsFor(split) {
    const metrics = this.ctx.metrics;
    const steps = split === "valid"
      ? metrics.filter((m) => typeof m.valid_reward_mean === "number").map((m) => m.step)
      : metrics.filter((m) => m.step > 0).map((m) => m.step);
    return [...new Set(steps)].sort((a, b) => b - a);  // newest first
  },
  fillSteps(reset) {
    const steps = this.stepsFor(this.split.value);
    const key = this.split.value + steps.join(",");
    if (key === this.steps && !reset) return false;
    const chosen = reset ? null : this.step.value;
    this.steps = key;
    this.step.replaceChildren(...steps.map((s) => el("option", {value: String(s)}, s === 0 ? "0 (baseline)" : String(s))));
    if (chosen !== null && steps.map(String).includes(chosen)) this.step.value = chosen;
    return true;
  },
  async load(more = false) {
    if (!this.step.value) { this.info.textContent = "no samples yet"; return; }
    const params = {step: this.step.value, split: this.split.value, min_reward: this.min.value,
                    max_reward: this.max.value, limit: PAGE, after: more ? this.after : null};
    const page = await api(`/fine_tuning/jobs/${encodeURIComponent(this.ctx.jobId)}/samples` + query(params));
    if (!more) this.rows.replaceChildren();
    this.rows.append(...page.data.map(sampleRow));
    this.after = page.last_id;
    this.more.hidden = !page.has_more;
    const shown = this.rows.children.length;
    this.info.textContent = `${shown}${page.has_more ? "+" : ""} sample${shown === 1 ? "" : "s"}`;
    this.rows.parentElement.setAttribute("data-loaded", "true");
  },
  async update() {
    const first = !this.loaded;
    if (this.fillSteps(false) && first) {
      this.loaded = true;
      await this.load();
    }
  },
};
