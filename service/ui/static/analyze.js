// "Analyze a file": a file of claims to POST /v1/casemix, drawn by casemix.js (the HTML report's renderer).
// No storage, no cookies: the file is read into memory, sent to this service only, and dropped.
"use strict";

(function () {
  const $ = (sel) => document.querySelector(sel);
  let picked = null;

  function status(text, kind) {
    const s = $("#status");
    s.textContent = text;
    if (kind) s.dataset.kind = kind; else delete s.dataset.kind;
  }

  function headers() {
    const h = {Accept: "application/json"};
    const key = $("#apikey").value.trim();
    if (key) h["X-API-Key"] = key;
    return h;
  }

  async function options() {
    try {
      const r = await fetch("/v1/versions", {headers: headers(), cache: "no-store", credentials: "omit"});
      if (!r.ok) return;
      const doc = await r.json();
      const rows = doc.versions || [];
      const years = new Set();
      rows.forEach((v) => {  // newest first, as the service lists them
        const o = document.createElement("option");
        o.value = v.version; o.textContent = v.version;
        $("#to").append(o);
        if (v.weights) years.add(v.fiscal_year);
      });
      Array.from(years).sort().reverse().forEach((y) => {
        const o = document.createElement("option");
        o.value = "FY" + y; o.textContent = "FY" + y;
        $("#weights").append(o);
      });
    } catch (err) { /* the form still works without the lists */ }
  }

  function pick(file) {
    picked = file || null;
    if (picked) status(`${picked.name}: ${picked.size.toLocaleString("en-US")} bytes. Press Analyze.`);
  }

  function analyze(ev) {
    ev.preventDefault();
    if (!picked) { status("Pick or drop a file first.", "warn"); return; }
    const q = new URLSearchParams();
    if ($("#to").value) q.set("to", $("#to").value);
    if ($("#weights").value) q.set("weights", $("#weights").value);
    if ($("#edits").checked) q.set("edits", "true");
    const isJson = /\.json$/i.test(picked.name);
    const xhr = new XMLHttpRequest();
    const bar = $("#progress");
    bar.hidden = false; bar.value = 0;
    xhr.open("POST", "/v1/casemix" + (q.toString() ? "?" + q : ""));
    const h = headers();
    Object.keys(h).forEach((k) => xhr.setRequestHeader(k, h[k]));
    xhr.setRequestHeader("Content-Type", isJson ? "application/json" : "application/x-ndjson");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); status(`Sending ${bar.value}%…`); }
    };
    xhr.upload.onload = () => { bar.removeAttribute("value"); status("Grouping on the service…"); };
    xhr.onerror = () => { bar.hidden = true; status("The service did not answer.", "warn"); };
    xhr.onload = () => {
      bar.hidden = true;
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
      if (xhr.status !== 200 || !body) {
        status((body && (body.detail || body.title)) || `The service answered ${xhr.status}.`, "warn");
        return;
      }
      status(`${picked.name}: ${body.claims.toLocaleString("en-US")} claims, ${body.grouped.toLocaleString("en-US")} grouped.`);
      window.CaseMixCharts.draw(body, $("#result"));
    };
    status("Sending…");
    xhr.send(picked);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#file").addEventListener("change", (e) => pick(e.target.files[0]));
    const drop = $("#drop");
    ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
    ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
    drop.addEventListener("drop", (e) => pick(e.dataTransfer.files[0]));
    $("#analyze").addEventListener("submit", analyze);
    options();
  });
})();
