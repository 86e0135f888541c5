// The job's events, newest first; per-step metrics events can be hidden.
import {el} from "../dom.js";

export default {
  id: "events",
  title: "Events",
  mount(body, ctx) {
    this.ctx = ctx;
    this.withMetrics = el("input", {type: "checkbox", id: "events-metrics"});
    this.withMetrics.addEventListener("change", () => this.update(this.ctx));
    this.log = el("div", {class: "events"});
    body.append(el("label", {class: "muted"}, this.withMetrics, " show per-step metrics events"), this.log);
  },
  update(ctx) {
    const shown = ctx.events.filter((e) => this.withMetrics.checked || e.type !== "metrics").slice(0, 500);
    this.log.replaceChildren(...shown.map((e) => el("div", {class: e.level},
      new Date(e.created_at * 1000).toLocaleTimeString() + "  " + e.level.padEnd(5) + "  " + e.message)));
  },
};
