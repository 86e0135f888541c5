// The job's files: training, validation and results, each downloadable with the session key.
import {api, download} from "../api.js";
import {el, fmt, table} from "../dom.js";

async function save(file) {
  const blob = await download(`/files/${encodeURIComponent(file.id)}/content`);
  const url = URL.createObjectURL(blob);
  const link = el("a", {href: url, download: file.filename});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export default {
  id: "files",
  title: "Files",
  mount(body) { this.body = body; this.shown = ""; },
  async update(ctx) {
    const job = ctx.job;
    const roles = [["training", job.training_file], ["validation", job.validation_file],
                   ...job.result_files.map((id) => ["result", id])].filter(([, id]) => id);
    const key = roles.map(([, id]) => id).join(",");
    if (key === this.shown) return;
    const files = await Promise.all(roles.map(async ([role, id]) => [role, await api(`/files/${encodeURIComponent(id)}`)]));
    this.shown = key;
    const rows = files.map(([role, file]) => el("tr", {class: "file"},
      el("td", {}, role), el("td", {}, file.filename), el("td", {}, el("code", {}, file.id)),
      el("td", {class: "num"}, fmt(file.bytes)),
      el("td", {}, el("button", {type: "button", onclick: () => save(file)}, "Download"))));
    this.body.replaceChildren(table(["role", "name", "id", "bytes", ""], rows));
  },
};
