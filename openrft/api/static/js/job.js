// One job's page: a column of panels (panels/index.js lists them). Each refresh reads the job
// and its new events once, then hands the shared context to every panel's update().
import {api} from "./api.js";
import {el} from "./dom.js";
import {PANELS} from "./panels/index.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

// Events come newest first; read pages until one we already have.
async function newEvents(jobId, known) {
  const fresh = [];
  let after = null;
  for (let page = 0; page < 200; page++) {
    const body = await api(`/fine_tuning/jobs/${encodeURIComponent(jobId)}/events?limit=100` +
                           (after ? "&after=" + after : ""));
    const unseen = body.data.filter((e) => !known.has(e.id));
    fresh.push(...unseen);
    if (!body.has_more || unseen.length < body.data.length || body.data.length === 0) break;
    after = body.data[body.data.length - 1].id;
  }
  return fresh;
}

// Per-step metrics: the metrics events plus the baseline evaluation as step 0.
function metricsOf(events) {
  const byStep = new Map();
  for (const event of events) {
    const data = event.data;
    if (!data || typeof data.step !== "number") continue;
    if (event.type === "metrics" || data.phase === "baseline") {
      byStep.set(data.step, {...(byStep.get(data.step) || {}), ...data});
    }
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

export async function showJob(view, jobId) {
  document.getElementById("crumb").textContent = "/ " + jobId;
  document.title = "openrft — " + jobId;
  const ctx = {jobId, job: null, events: [], metrics: [], terminal: false};
  const known = new Set();
  const mounted = PANELS.map((panel) => {
    const body = el("div", {class: "panel-body"});
    const section = el("section", {class: "panel", id: "panel-" + panel.id},
                       el("h2", {}, panel.title), body);
    panel.mount(body, ctx);
    return {panel, section, body};
  });
  view.replaceChildren(...mounted.map((m) => m.section));
  return {
    async refresh() {
      ctx.job = await api(`/fine_tuning/jobs/${encodeURIComponent(jobId)}`);
      const fresh = await newEvents(jobId, known);
      fresh.forEach((e) => known.add(e.id));
      ctx.events = fresh.concat(ctx.events).sort((a, b) => b.created_at - a.created_at);
      ctx.metrics = metricsOf(ctx.events);
      ctx.terminal = TERMINAL.has(ctx.job.status);
      for (const {panel, body} of mounted) {
        try {
          await panel.update(ctx);
        } catch (error) {
          body.append(el("p", {class: "error"}, panel.title + ": " + error.message));
        }
      }
      return !ctx.terminal;  // a finished job stops polling
    },
  };
}
