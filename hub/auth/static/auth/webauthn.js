// Security-key ceremonies for the hub (WebAuthn). The server sends the options as JSON,
// the browser talks to the key, and the answer goes back as JSON. No inline script is needed,
// so the page's Content-Security-Policy can forbid it.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  function b64urlToBytes(value) {
    var b64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) { b64 += "="; }
    var raw = atob(b64);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out.buffer;
  }
  function bytesToB64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) { raw += String.fromCharCode(bytes[i]); }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": csrfToken() },
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().then(function (data) {
        if (!resp.ok) { throw new Error(data.message || "refused"); }
        return data;
      });
    });
  }
  function creationOptions(o) {
    o.challenge = b64urlToBytes(o.challenge);
    o.user.id = b64urlToBytes(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = b64urlToBytes(c.id); });
    return o;
  }
  function requestOptions(o) {
    o.challenge = b64urlToBytes(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = b64urlToBytes(c.id); });
    return o;
  }
  function registrationJSON(cred) {
    return {
      id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type,
      response: {
        clientDataJSON: bytesToB64url(cred.response.clientDataJSON),
        attestationObject: bytesToB64url(cred.response.attestationObject),
        transports: cred.response.getTransports ? cred.response.getTransports() : []
      },
      clientExtensionResults: cred.getClientExtensionResults()
    };
  }
  function authenticationJSON(cred) {
    return {
      id: cred.id, rawId: bytesToB64url(cred.rawId), type: cred.type,
      response: {
        clientDataJSON: bytesToB64url(cred.response.clientDataJSON),
        authenticatorData: bytesToB64url(cred.response.authenticatorData),
        signature: bytesToB64url(cred.response.signature),
        userHandle: cred.response.userHandle ? bytesToB64url(cred.response.userHandle) : null
      },
      clientExtensionResults: cred.getClientExtensionResults()
    };
  }
  function wire(box) {
    var button = box.querySelector(".gh-webauthn-start");
    var status = box.querySelector(".gh-webauthn-status");
    function say(text) { status.hidden = false; status.textContent = text; }
    if (!window.PublicKeyCredential) {
      button.disabled = true;
      say("This browser cannot use security keys.");
      return;
    }
    button.addEventListener("click", function () {
      button.disabled = true;
      say("Touch your security key…");
      var mode = box.dataset.mode;
      post(box.dataset.beginUrl).then(function (options) {
        if (mode === "register") {
          return navigator.credentials.create({ publicKey: creationOptions(options) })
            .then(function (cred) {
              var nameInput = box.querySelector(".gh-webauthn-name");
              return post(box.dataset.finishUrl, {
                credential: registrationJSON(cred), name: nameInput ? nameInput.value : ""
              });
            });
        }
        return navigator.credentials.get({ publicKey: requestOptions(options) })
          .then(function (cred) { return post(box.dataset.finishUrl, authenticationJSON(cred)); });
      }).then(function (result) {
        window.location.assign(result.redirect);
      }).catch(function (err) {
        button.disabled = false;
        say("The security key was not accepted (" + err.message + "). Try again.");
      });
    });
  }
  document.querySelectorAll(".gh-webauthn").forEach(wire);
})();
