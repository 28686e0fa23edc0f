// Keyguard dashboard: progressive enhancement only; every page reads without JavaScript.
// Served by Keyguard (CSP script-src 'self'); no inline script anywhere.
"use strict";
document.documentElement.classList.add("js");

function b64urlToBytes(text) {
  const pad = "=".repeat((4 - (text.length % 4)) % 4);
  const raw = atob((text + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function bytesToB64url(buffer) {
  let raw = "";
  for (const byte of new Uint8Array(buffer)) raw += String.fromCharCode(byte);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function creationOptions(json) {
  const o = Object.assign({}, json);
  o.challenge = b64urlToBytes(json.challenge);
  o.user = Object.assign({}, json.user, { id: b64urlToBytes(json.user.id) });
  o.excludeCredentials = (json.excludeCredentials || []).map((c) => Object.assign({}, c, { id: b64urlToBytes(c.id) }));
  return o;
}

function requestOptions(json) {
  const o = Object.assign({}, json);
  o.challenge = b64urlToBytes(json.challenge);
  o.allowCredentials = (json.allowCredentials || []).map((c) => Object.assign({}, c, { id: b64urlToBytes(c.id) }));
  return o;
}

function credentialJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: bytesToB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = bytesToB64url(r.attestationObject);
    if (r.getTransports) response.transports = r.getTransports();
  } else {
    response.authenticatorData = bytesToB64url(r.authenticatorData);
    response.signature = bytesToB64url(r.signature);
    if (r.userHandle) response.userHandle = bytesToB64url(r.userHandle);
  }
  return JSON.stringify({ id: credential.id, rawId: bytesToB64url(credential.rawId), type: credential.type,
    response: response, clientExtensionResults: credential.getClientExtensionResults() });
}

async function passkey(form) {
  const body = new URLSearchParams(new FormData(form));
  const answer = await fetch("/ui/passkey/options", { method: "POST", body: body, credentials: "same-origin" });
  if (!answer.ok) throw new Error("the server refused to start (" + answer.status + ")");
  const options = await answer.json();
  const credential = form.dataset.passkey === "register"
    ? await navigator.credentials.create({ publicKey: creationOptions(options) })
    : await navigator.credentials.get({ publicKey: requestOptions(options) });
  form.querySelector("input[name=credential]").value = credentialJSON(credential);
  form.submit();
}

function status(form, text) {
  let line = form.querySelector(".passkey-status");
  if (!line) {
    line = document.createElement("p");
    line.className = "passkey-status error";
    line.setAttribute("role", "alert");
    form.appendChild(line);
  }
  line.textContent = text;
}

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.dataset || !form.dataset.passkey || form.querySelector("input[name=credential]").value) return;
  event.preventDefault();
  if (!window.PublicKeyCredential) { status(form, "This browser does not support passkeys."); return; }
  passkey(form).catch((error) => status(form, "Passkey failed: " + error.message));
});

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const said = document.getElementById("copied");
  navigator.clipboard.writeText(field.value).then(
    () => { if (said) said.textContent = "Copied. Paste it into your secret store now."; },
    () => { field.select(); if (said) said.textContent = "Select it and copy it by hand."; });
});
