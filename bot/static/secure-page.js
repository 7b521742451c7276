// certmate's secure page: the files and password are encrypted here, in the browser,
// to this link's own key before anything is sent (ECDH P-256 + HKDF-SHA256 + AES-GCM;
// handlers/envelope.py opens it). No third-party code, no inline script.
"use strict";

(function () {
  const body = document.body;
  const form = document.getElementById("page-form");
  const status = document.getElementById("status");
  const instructions = document.getElementById("instructions");
  const result = document.getElementById("result");
  const resultTitle = document.getElementById("result-title");
  const resultMessages = document.getElementById("result-messages");
  const fileInput = document.getElementById("files");
  const password = document.getElementById("password");
  const newPassword = document.getElementById("new-password");
  const newPasswordAgain = document.getElementById("new-password-again");
  const submit = document.getElementById("submit");
  const encoder = new TextEncoder();

  function paragraphs(element, lines) {
    element.textContent = "";
    for (const line of lines) {
      const p = document.createElement("p");
      p.textContent = line;
      element.appendChild(p);
    }
  }

  function say(lines, kind) {
    paragraphs(status, lines);
    status.className = kind || "";
  }

  // The link is used up: the result replaces the instructions. It says "done" only when
  // this submission stored a certificate or returned a file; else the link just closed.
  function finish(answer) {
    instructions.hidden = true;
    say([], "");
    result.className = answer.stored ? "stored" : "closed";
    resultTitle.textContent = answer.stored ? body.dataset.doneTitle : body.dataset.closedTitle;
    paragraphs(resultMessages, answer.messages.concat([body.dataset.backToChat]));
    result.hidden = false;
    if (answer.file) {
      offerFile(answer.file);
    }
  }

  if (!form) {
    return; // a refusal page: nothing to do
  }
  if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
    say([body.dataset.noWebcrypto], "error");
    submit.disabled = true;
    return;
  }

  function fromBase64Url(text) {
    const plain = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(plain + "===".slice((plain.length + 3) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }

  function toBase64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  async function readFiles() {
    const chosen = fileInput ? Array.from(fileInput.files) : [];
    const limit = Number(body.dataset.maxBytes);
    const files = [];
    for (const file of chosen) {
      if (file.size > limit) {
        throw new Error(body.dataset.tooBig.replace("{name}", file.name));
      }
      const bytes = new Uint8Array(await file.arrayBuffer());
      files.push({ name: file.name, data: toBase64(bytes) });
    }
    return files;
  }

  async function seal(plaintext) {
    const curve = { name: "ECDH", namedCurve: "P-256" };
    const linkKey = await crypto.subtle.importKey(
      "raw", fromBase64Url(body.dataset.key), curve, false, []);
    const ephemeral = await crypto.subtle.generateKey(curve, false, ["deriveBits"]);
    const shared = await crypto.subtle.deriveBits(
      { name: "ECDH", public: linkKey }, ephemeral.privateKey, 256);
    const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
    const aesKey = await crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0),
        info: encoder.encode("certmate secure page v1") },
      hkdf, { name: "AES-GCM", length: 256 }, false, ["encrypt"]);
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const ciphertext = new Uint8Array(await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce,
        additionalData: encoder.encode("certmate-page|" + body.dataset.token) },
      aesKey, plaintext));
    const point = new Uint8Array(await crypto.subtle.exportKey("raw", ephemeral.publicKey));
    const envelope = new Uint8Array(1 + point.length + nonce.length + ciphertext.length);
    envelope[0] = 1;
    envelope.set(point, 1);
    envelope.set(nonce, 1 + point.length);
    envelope.set(ciphertext, 1 + point.length + nonce.length);
    return envelope;
  }

  function offerFile(file) {
    const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = file.name;
    link.id = "download";
    link.className = "primary";
    link.textContent = body.dataset.download;
    link.title = file.name;
    result.appendChild(link);
    link.click();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (newPasswordAgain && newPassword.value !== newPasswordAgain.value) {
      say([body.dataset.mismatch], "retry"); // said before anything is sent
      newPasswordAgain.value = "";
      newPasswordAgain.focus();
      return;
    }
    submit.disabled = true;
    say([body.dataset.working], "working");
    let answer;
    try {
      const payload = {
        files: await readFiles(),
        password: password ? password.value : "",
        new_password: newPassword ? newPassword.value : "",
      };
      const envelope = await seal(encoder.encode(JSON.stringify(payload)));
      const response = await fetch(window.location.pathname, {
        method: "POST",
        body: envelope,
        headers: { "Content-Type": "application/octet-stream" },
        credentials: "omit",
        cache: "no-store",
      });
      answer = await response.json();
    } catch (error) {
      say([error instanceof Error && error.message ? error.message : body.dataset.failed],
          "error");
      submit.disabled = false;
      return;
    }
    if (password) {
      password.value = "";
    }
    if (newPassword) {
      newPassword.value = "";
      newPasswordAgain.value = "";
    }
    if (answer.done) {
      finish(answer);
    } else {
      say(answer.messages, "retry");
      submit.disabled = false;
    }
  });
})();
