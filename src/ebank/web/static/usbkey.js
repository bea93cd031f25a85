// USB keys for the customer pages.
//
// A form with a hidden "sign_payload" field (log in, authorise a payment, when the challenge is a
// USB key's) is signed on submit by the key's client software, which the bank's USB key installs
// in the browser as window.ebankUsbKey: sign(payload) resolves to the base64 DER ECDSA signature
// over the payload's bytes. The signature goes into the form's hidden "signature" field and the
// server verifies it against the login or payment as it is now, and the key's certificate.
(function () {
  "use strict";

  function showProblem(form, message) {
    let box = form.querySelector(".usbkey-error");
    if (!box) {
      box = document.createElement("p");
      box.className = "error usbkey-error";
      box.setAttribute("role", "alert");
      form.prepend(box);
    }
    box.textContent = message;
  }

  function usbKeyChosen(form) {
    const radio = form.querySelector("input[name=method]:checked");
    return !radio || radio.value === "usbkey";
  }

  function watch(form) {
    form.addEventListener("submit", async (event) => {
      const payload = form.querySelector("input[name=sign_payload]");
      const field = form.querySelector("input[name=signature]");
      const submitter = event.submitter;
      if (
        form.dataset.signed === "yes" || !payload || !payload.value || !field ||
        !usbKeyChosen(form) || (submitter && submitter.hasAttribute("data-no-webauthn"))
      ) {
        return;
      }
      event.preventDefault();
      const missing = form.dataset.usbkeyMissing || "The USB key did not sign.";
      const key = window.ebankUsbKey;
      if (!key || typeof key.sign !== "function") {
        showProblem(form, missing);
        return;
      }
      try {
        field.value = await key.sign(payload.value);
        form.dataset.signed = "yes";
        if (submitter) {
          form.requestSubmit(submitter);
        } else {
          form.requestSubmit();
        }
      } catch (problem) {
        showProblem(form, missing);
      }
    });
  }

  document.querySelectorAll("form").forEach((form) => {
    if (form.querySelector("input[name=sign_payload]")) {
      watch(form);
    }
  });
})();
