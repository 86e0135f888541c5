// Checkpoints with their metrics, and a "try it" chat box against each one.
import {api, post} from "../api.js";
import {el, fmt, table} from "../dom.js";

function chatBox(model) {
  const input = el("input", {class: "chat-input", placeholder: "Say something to this checkpoint"});
  const reply = el("div", {class: "reply", "data-state": "idle"});
  const send = el("button", {type: "submit", class: "chat-send"}, "Send");
  const form = el("form", {class: "chat"}, input, send);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!input.value) return;
    send.disabled = true;
    reply.setAttribute("data-state", "waiting");
    reply.replaceChildren(el("span", {class: "muted"}, "…"));
    try {
      const answer = await post("/chat/completions", {
        model, messages: [{role: "user", content: input.value}], max_tokens: 48,
      });
      const choice = answer.choices[0];
      reply.replaceChildren(
        el("pre", {class: "text answer"}, choice.message.content || "(empty reply)"),
        el("div", {class: "muted"}, `${answer.usage.completion_tokens} tokens · finish: ${choice.finish_reason}`));
      reply.setAttribute("data-state", "done");
    } catch (error) {
      reply.replaceChildren(el("span", {class: "error"}, error.message));
      reply.setAttribute("data-state", "error");
    } finally {
      send.disabled = false;
    }
  });
  return el("div", {}, form, reply);
}

export default {
  id: "checkpoints",
  title: "Checkpoints",
  mount(body, ctx) { this.body = body; this.ctx = ctx; this.shown = ""; },
  async update(ctx) {
    const list = (await api(`/fine_tuning/jobs/${encodeURIComponent(ctx.jobId)}/checkpoints?limit=100`)).data;
    const key = list.map((c) => c.id).join(",");
    if (key === this.shown) return;  // keep what the user typed into the chat boxes
    this.shown = key;
    if (!list.length) { this.body.replaceChildren(el("p", {class: "muted"}, "No checkpoint yet.")); return; }
    const rows = list.map((c) => el("tr", {class: "checkpoint", "data-step": String(c.step_number)},
      el("td", {class: "num"}, c.step_number),
      el("td", {}, el("code", {}, c.fine_tuned_model_checkpoint),
         c.fine_tuned_model_checkpoint === ctx.job.fine_tuned_model ? el("span", {class: "muted"}, " (fine-tuned model)") : null),
      el("td", {}, Object.entries(c.metrics).filter(([k]) => k !== "step").map(([k, v]) => `${k}=${fmt(v)}`).join(" · ")),
      el("td", {}, chatBox(c.fine_tuned_model_checkpoint))));
    this.body.replaceChildren(table(["step", "model", "metrics", "try it"], rows));
  },
};
