// The upload page: pick the customer, drop files, watch each one upload (real progress from
// XMLHttpRequest) and then be processed (polling the recording until done or failed).
// Requests carry the page session's cookie and repeat its CSRF token in X-CSRF-Token.
(function () {
  "use strict";
  var text = JSON.parse(document.getElementById("upload-text").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var $ = function (id) { return document.getElementById(id); };
  var chosen = null; // {id, name, phone}

  function fill(template, value) { return template.replace("{}", value); }
  function label(c) {
    var parts = [c.name, c.phone].filter(Boolean);
    return parts.length ? parts.join(" · ") : text["customer-unnamed"];
  }

  // --- the customer ---------------------------------------------------------------------
  function choose(customer) {
    chosen = customer;
    $("customer-picked-text").textContent = fill(text["customer-chosen"], label(customer));
    $("customer-picked").hidden = false;
    $("customer-pick").hidden = true;
  }
  $("customer-change").addEventListener("click", function () {
    chosen = null;
    $("customer-picked").hidden = true;
    $("customer-pick").hidden = false;
    $("customer-search").focus();
  });

  var searchTimer = null;
  $("customer-search").addEventListener("input", function () {
    clearTimeout(searchTimer);
    var q = this.value.trim();
    searchTimer = setTimeout(function () { search(q); }, 250);
  });
  function search(q) {
    var list = $("customer-results");
    if (q.length < 2) { list.replaceChildren(); return; }
    fetch("/page-api/customers?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (found) {
        if ($("customer-search").value.trim() !== q) return; // a newer search is on its way
        list.replaceChildren();
        if (!found.length) {
          var none = document.createElement("li");
          none.textContent = text["customer-none-found"];
          list.appendChild(none);
        }
        found.forEach(function (c) {
          var li = document.createElement("li");
          var name = document.createElement("span");
          name.textContent = label(c);
          var pick = document.createElement("button");
          pick.type = "button";
          pick.textContent = text["customer-choose"];
          pick.setAttribute("aria-label", text["customer-choose"] + ": " + label(c));
          pick.addEventListener("click", function () { choose(c); });
          li.append(name, pick);
          list.appendChild(li);
        });
      });
  }

  // The chosen customer, else a new one from the name/phone fields, else none (the service
  // then creates an unnamed customer for each recording).
  function customerForUpload() {
    if (chosen) return Promise.resolve(chosen);
    var name = $("customer-name").value.trim();
    var phone = $("customer-phone").value.trim();
    if (!name && !phone) return Promise.resolve(null);
    return fetch("/page-api/customers", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ name: name || null, phone: phone || null })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.error || r.statusText);
        choose(body);
        return body;
      });
    });
  }

  // --- the files --------------------------------------------------------------------------
  var TYPES = {
    txt: "text/plain; charset=utf-8", json: "application/json", mp3: "audio/mpeg",
    m4a: "audio/mp4", mp4: "audio/mp4", aac: "audio/aac", flac: "audio/flac",
    ogg: "audio/ogg", oga: "audio/ogg", wav: "audio/wav"
  };
  function contentType(file) {
    var ext = (file.name.split(".").pop() || "").toLowerCase();
    return TYPES[ext] || file.type || "application/octet-stream";
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return "page-" + crypto.randomUUID();
    return "page-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function row(file) {
    var li = document.createElement("li");
    li.className = "upload";
    var name = document.createElement("div");
    name.className = "name";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", fill(text["upload-progress"], file.name));
    var status = document.createElement("span");
    status.className = "status";
    status.setAttribute("role", "status");
    var reason = document.createElement("span");
    reason.className = "reason";
    li.append(name, bar, status, reason);
    $("uploads").appendChild(li);
    $("uploads-card").hidden = false;
    return {
      li: li, bar: bar,
      set: function (state, why) {
        li.dataset.status = state;
        status.className = "status status-" + state;
        status.textContent = text["status-" + state];
        reason.textContent = why || "";
      }
    };
  }

  function errorOf(xhr) {
    try { return JSON.parse(xhr.responseText).error || xhr.statusText; }
    catch (e) { return xhr.statusText || String(xhr.status); }
  }

  function upload(file, customer) {
    var r = row(file);
    r.set("uploading");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/recordings");
    xhr.setRequestHeader("Content-Type", contentType(file));
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Idempotency-Key", newKey());
    xhr.setRequestHeader("X-Recorded-At", new Date(file.lastModified || Date.now()).toISOString());
    if (customer) xhr.setRequestHeader("X-Customer-Id", customer.id);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) r.bar.value = Math.round((e.loaded / e.total) * 100);
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 200 || xhr.status === 202) {
        r.bar.value = 100;
        var rec = JSON.parse(xhr.responseText);
        r.li.dataset.id = rec.id;
        r.set(rec.status);
        watch(rec.id, r, 1000);
      } else {
        r.set("failed", fill(text["upload-failed"], errorOf(xhr)));
      }
    });
    xhr.addEventListener("error", function () {
      r.set("failed", fill(text["upload-failed"], "network"));
    });
    xhr.send(file);
  }

  // Polls the recording until it is done or failed; waits longer while it stays queued.
  function watch(id, r, delay) {
    setTimeout(function () {
      fetch("/api/v1/recordings/" + encodeURIComponent(id), {
        credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
      }).then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) throw new Error(body.error || res.statusText);
          return body;
        });
      }).then(function (rec) {
        r.set(rec.status, rec.error);
        if (rec.status !== "done" && rec.status !== "failed") watch(id, r, Math.min(delay * 1.5, 5000));
      }).catch(function () {
        watch(id, r, Math.min(delay * 2, 10000));
      });
    }, delay);
  }

  function handle(files) {
    if (!files.length) return;
    files = Array.prototype.slice.call(files);
    customerForUpload().then(function (customer) {
      files.forEach(function (f) { upload(f, customer); });
    }, function (err) {
      files.forEach(function (f) { row(f).set("failed", fill(text["upload-failed"], err.message)); });
    });
  }

  $("files").addEventListener("change", function () {
    handle(this.files);
    this.value = "";
  });
  var drop = $("drop");
  ["dragenter", "dragover"].forEach(function (type) {
    drop.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    drop.addEventListener(type, function () { drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (e) {
    e.preventDefault();
    handle(e.dataTransfer.files);
  });
})();
