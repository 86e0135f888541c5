// The job page's panels, top to bottom. A panel is a module whose default export is
// {id, title, mount(body, ctx), update(ctx)}: mount builds its DOM once; update runs on every
// refresh with ctx = {jobId, job, events (newest first), metrics (per step), terminal}.
// To add a panel, write panels/NAME.js and list it here.
import charts from "./charts.js";
import checkpoints from "./checkpoints.js";
import events from "./events.js";
import files from "./files.js";
import integrity from "./integrity.js";
import logs from "./logs.js";
import report from "./report.js";
import samples from "./samples.js";
import summary from "./summary.js";

export const PANELS = [summary, integrity, charts, report, samples, checkpoints, files, logs, events];
