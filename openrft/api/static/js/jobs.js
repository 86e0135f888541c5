// The jobs list (newest first) with live status; each job links to its own page.
import {api} from "./api.js";
import {el, table, when} from "./dom.js";

export async function showJobs(view) {
  document.getElementById("crumb").textContent = "";
  document.title = "openrft — jobs";
  const body = el("div", {});
  view.replaceChildren(el("section", {class: "panel", id: "panel-jobs"}, el("h2", {}, "Fine-tuning jobs"), body));
  return {
    async refresh() {
      const jobs = (await api("/fine_tuning/jobs?limit=100")).data;
      const rows = jobs.map((job) => el("tr", {class: "job", "data-job": job.id},
        el("td", {}, el("a", {href: "/jobs/" + encodeURIComponent(job.id)}, job.id)),
        el("td", {}, job.model),
        el("td", {class: "status " + job.status}, job.status),
        el("td", {}, when(job.created_at)),
        el("td", {}, job.fine_tuned_model || "–")));
      body.replaceChildren(jobs.length
        ? table(["job", "model", "status", "created", "fine-tuned model"], rows)
        : el("p", {class: "muted"}, "No jobs yet."));
      return true;  // keep polling: statuses change
    },
  };
}
