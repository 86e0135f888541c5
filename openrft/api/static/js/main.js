// Routes: "/" lists jobs, "/jobs/{id}" is one job's page. Each view polls while it is shown.
import {ApiError} from "./api.js";
import {setMessage} from "./dom.js";
import {showJob} from "./job.js";
import {showJobs} from "./jobs.js";
import {mountLogin} from "./login.js";

const POLL_MS = 3000;
let timer = null;

export function explain(error) {
  if (error instanceof ApiError && error.status === 401) {
    return "This server needs an API key: log in above.";
  }
  return error.message;
}

async function route() {
  clearTimeout(timer);
  const view = document.getElementById("view");
  const match = location.pathname.match(/^\/jobs\/([^/]+)\/?$/);
  const page = match ? await showJob(view, decodeURIComponent(match[1])) : await showJobs(view);
  const tick = async () => {
    try {
      const live = await page.refresh();
      setMessage("updated " + new Date().toLocaleTimeString());
      if (live) timer = setTimeout(tick, POLL_MS);
    } catch (error) {
      setMessage(explain(error), true);
      if (!(error instanceof ApiError && error.status < 500)) timer = setTimeout(tick, POLL_MS);
    }
  };
  await tick();
}

mountLogin(document.getElementById("login"), route);
route();
