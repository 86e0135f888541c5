// What the job's grader code printed or logged (python graders, Lambda handler files). Live:
// the logs that grader-error events carry. Once the job ends: its grader_logs.jsonl result
// file, one entry per distinct output of a step. Bounded: the newest MAX_ENTRIES entries, each
// cut at MAX_CHARS; the Files panel downloads the whole file.
import {api, download} from "../api.js";
import {el, table} from "../dom.js";

export const LOGS_FILENAME = "grader_logs.jsonl";
const MAX_ENTRIES = 200;
const MAX_CHARS = 4000;

function clip(text) {
  return text.length <= MAX_CHARS ? text : text.slice(0, MAX_CHARS) + `\n[… ${text.length - MAX_CHARS} more characters]`;
}

function fromEvents(events) {
  return events.filter((e) => e.data && typeof e.data.grader_logs === "string" && e.data.grader_logs)
    .map((e) => ({step: e.data.step, split: "error", logs: e.data.grader_logs}));
}

// Every grader_logs.jsonl of the job (a paused and resumed job has one per run), in order.
async function fromFiles(job) {
  const entries = [];
  for (const id of job.result_files) {
    const file = await api(`/files/${encodeURIComponent(id)}`);
    if (file.filename !== LOGS_FILENAME) continue;
    const text = await (await download(`/files/${encodeURIComponent(id)}/content`)).text();
    entries.push(...text.split("\n").filter((line) => line.trim()).map((line) => JSON.parse(line)));
  }
  return entries;
}

function render(entries, ended) {
  const dropped = entries.filter((e) => typeof e.dropped === "number").reduce((n, e) => n + e.dropped, 0);
  const kept = entries.filter((e) => typeof e.logs === "string");
  if (!kept.length) {
    return [el("p", {class: "muted", id: "logs-note"},
                ended ? "The grader code printed and logged nothing." : "Shown when the job ends (and live on grader errors).")];
  }
  const shown = kept.slice(-MAX_ENTRIES).reverse();
  const rows = shown.map((e) => el("tr", {class: "log"},
    el("td", {class: "num"}, e.step ?? "–"), el("td", {}, e.split),
    el("td", {}, el("pre", {class: "text"}, clip(e.logs)))));
  const note = [`${shown.length} of ${kept.length} entries, newest first`,
                dropped ? `; ${dropped} more did not fit the job's log cap` : "",
                kept.length > shown.length ? "; the Files panel has them all" : ""].join("");
  return [el("p", {class: "muted", id: "logs-note"}, note), table(["step", "split", "output"], rows)];
}

export default {
  id: "logs",
  title: "Grader logs",
  mount(body) { this.body = body; this.files = null; this.fileEntries = []; this.shown = null; },
  async update(ctx) {
    const files = ctx.job.result_files.join(",");
    if (files !== this.files) {
      this.fileEntries = await fromFiles(ctx.job);
      this.files = files;
    }
    // The files hold every output, the error events' included; before them, the events.
    const entries = this.fileEntries.length ? this.fileEntries : fromEvents(ctx.events);
    const key = `${files}|${entries.length}|${ctx.terminal}`;
    if (key === this.shown) return;
    this.shown = key;
    this.body.replaceChildren(...render(entries, ctx.terminal));
  },
};
