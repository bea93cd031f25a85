// Passkeys (WebAuthn) for the customer pages.
//
// A form with data-webauthn="get" (log in, authorise a payment) or "create" (add a passkey)
// carries the server's options as JSON in data-options. On submit the browser asks the passkey
// (fingerprint, face or PIN on this device), writes the answer as JSON into the form's hidden
// "credential" field and sends the form; the server verifies it. Buttons with data-no-webauthn
// (such as "Send code") submit without asking. Binary fields travel as base64url, as py_webauthn
// expects them.
(function () {
  "use strict";

  function fromB64url(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toB64url(buffer) {
    let text = "";
    new Uint8Array(buffer).forEach((byte) => { text += String.fromCharCode(byte); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function decodeDescriptors(list) {
    return (list || []).map((item) => Object.assign({}, item, { id: fromB64url(item.id) }));
  }

  async function assertion(options) {
    const publicKey = Object.assign({}, options, {
      challenge: fromB64url(options.challenge),
      allowCredentials: decodeDescriptors(options.allowCredentials),
    });
    const credential = await navigator.credentials.get({ publicKey: publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64url(response.clientDataJSON),
        authenticatorData: toB64url(response.authenticatorData),
        signature: toB64url(response.signature),
        userHandle: response.userHandle ? toB64url(response.userHandle) : null,
      },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
    };
  }

  async function registration(options) {
    const publicKey = Object.assign({}, options, {
      challenge: fromB64url(options.challenge),
      user: Object.assign({}, options.user, { id: fromB64url(options.user.id) }),
      excludeCredentials: decodeDescriptors(options.excludeCredentials),
    });
    const credential = await navigator.credentials.create({ publicKey: publicKey });
    const response = credential.response;
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: toB64url(response.clientDataJSON),
        attestationObject: toB64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : [],
      },
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || null,
    };
  }

  function showProblem(form, message) {
    let box = form.querySelector(".webauthn-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "error webauthn-error";
      box.setAttribute("role", "alert");
      form.prepend(box);
    }
    box.textContent = message;
  }

  function watch(form) {
    form.addEventListener("submit", async (event) => {
      const submitter = event.submitter;
      const field = form.querySelector("input[name=credential]");
      if (form.dataset.answered === "yes" || !field || (submitter && submitter.hasAttribute("data-no-webauthn"))) {
        return;
      }
      event.preventDefault();
      if (!window.PublicKeyCredential) {
        showProblem(form, form.dataset.unsupported || "This browser cannot use passkeys.");
        return;
      }
      try {
        const options = JSON.parse(form.dataset.options);
        const answer = form.dataset.webauthn === "create" ? await registration(options) : await assertion(options);
        field.value = JSON.stringify(answer);
        form.dataset.answered = "yes";
        if (submitter) {
          form.requestSubmit(submitter);
        } else {
          form.requestSubmit();
        }
      } catch (problem) {
        showProblem(form, form.dataset.cancelled || "The passkey was not used.");
      }
    });
  }

  document.querySelectorAll("form[data-webauthn][data-options]").forEach(watch);
})();
