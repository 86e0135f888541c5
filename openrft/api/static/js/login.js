// The header's login: the API key goes to sessionStorage only.
import {session} from "./api.js";
import {el} from "./dom.js";

export function mountLogin(form, onChange) {
  function render() {
    form.replaceChildren();
    if (session.key) {
      form.append(
        el("span", {class: "muted"}, "key …" + session.key.slice(-4) + " "),
        el("button", {type: "button", id: "logout",
                      onclick: () => { session.key = ""; render(); onChange(); }}, "Log out"));
    } else {
      form.append(
        el("input", {id: "key", type: "password", placeholder: "API key (if the server has keys)"}),
        el("button", {type: "submit", id: "login-button"}, "Log in"));
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = form.querySelector("#key");
    if (input && input.value) { session.key = input.value.trim(); render(); onChange(); }
  });
  render();
}
