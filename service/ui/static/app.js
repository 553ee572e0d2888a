// fastdrg workbench: one stay at a time, through the public API only.
// No storage, no cookies: the claim lives in this page's memory and is sent only to this service.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined && kid !== "") node.append(kid);
  return node;
};

const state = {
  versions: [],          // [{version, first_discharge_date, last_discharge_date}]
  latest: null,
  features: { edits: false, editRoute: false, whatIf: false, losField: null, codes: false },
  lastClaim: null,
  lastResult: null,
  lastUrl: null,
  titles: new Map(),     // "43.1|diagnosis|I5021" -> title (memory only)
  seq: 0,
};

// ---------------------------------------------------------------------------------------------
// API

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
  const key = $("#apikey").value.trim();
  if (key && path.startsWith("/v1")) headers["X-API-Key"] = key;
  const init = { method: options.method || "GET", headers, cache: "no-store", credentials: "omit" };
  if (options.json !== undefined) {
    init.body = JSON.stringify(options.json);
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    return { status: 0, body: null, error: "The service did not answer." };
  }
  let body = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try { body = await response.json(); } catch (err) { body = null; }
  }
  return { status: response.status, body };
}

// ---------------------------------------------------------------------------------------------
// Start-up: what the service offers (feature detection from its own contract)

async function detectFeatures() {
  const r = await api("/openapi.json");
  if (r.status !== 200 || !r.body) return;
  const paths = r.body.paths || {};
  const groupOp = (paths["/v1/group"] || {}).post || {};
  const params = (groupOp.parameters || []).map((p) => p.name);
  state.features.edits = params.includes("edits");
  state.features.editRoute = Boolean(paths["/v1/edit"]);
  state.features.whatIf = Boolean(paths["/v1/what-if"]);
  state.features.codes = Boolean(paths["/v1/codes"]);
  const claim = ((r.body.components || {}).schemas || {}).Claim || {};
  const props = claim.properties || {};
  state.features.losField = ["length_of_stay", "los"].find((k) => k in props) || null;
  $("#los").closest("label").classList.toggle("unused", !state.features.losField);
  $("#los").title = state.features.losField
    ? "Sent as " + state.features.losField
    : "This service's grouping does not read the length of stay; it is not sent.";
}

async function loadVersions() {
  const r = await api("/v1/versions");
  if (r.status === 503) {
    setStatus("The grouping engine is loading…", "wait");
    setTimeout(loadVersions, 2000);
    return;
  }
  if (r.status === 401) {
    setStatus("This service needs an API key: enter it above.", "warn");
    $("#apikey").focus();
    return;
  }
  if (r.status !== 200 || !r.body) {
    setStatus("The service did not answer " + (r.status ? "(HTTP " + r.status + ")" : "") + ".", "warn");
    return;
  }
  state.versions = r.body.versions || [];
  state.latest = r.body.latest;
  const select = $("#version");
  $$("option:not([value=''])", select).forEach((o) => o.remove());
  for (const v of state.versions) {
    select.append(el("option", { value: v.version, title: v.first_discharge_date + " – " + v.last_discharge_date, text: v.version }));
  }
  if (!select.dataset.touched) select.value = state.latest || "";
  const extras = [];
  if (state.features.edits || state.features.editRoute) extras.push("code editor");
  if (state.features.whatIf) extras.push("what-if");
  setStatus("Ready · MS-DRG " + state.versions.map((v) => v.version).slice(-1)[0] + "–" + state.latest +
    (extras.length ? " · " + extras.join(", ") : ""), "ok");
}

function setStatus(text, kind) {
  const s = $("#status");
  s.textContent = text;
  s.dataset.kind = kind;
}

// ---------------------------------------------------------------------------------------------
// Code rows

let rowCount = 0;

function makeRow(kind, role) {
  const row = $("#tpl-code").content.firstElementChild.cloneNode(true);
  const n = ++rowCount;
  const input = $(".code", row);
  const poa = $(".poa", row);
  const title = $(".title", row);
  input.id = "code-" + n;
  input.dataset.kind = kind;
  input.dataset.role = role;
  input.setAttribute("list", "dl-" + kind);
  title.id = "title-" + n;
  input.setAttribute("aria-describedby", title.id);
  const names = { admit: "Admitting diagnosis", pdx: "Principal diagnosis", sdx: "Secondary diagnosis", px: "Procedure" };
  const label = el("label", { for: input.id, class: "rowlabel", text: names[role] });
  row.prepend(label);
  if (role === "px" || role === "admit") {
    poa.remove();
    row.append(el("span", { class: "nopoa" }));
  } else {
    poa.setAttribute("aria-label", names[role] + " POA");
    poa.addEventListener("change", () => { if (role === "pdx") return; });
  }
  input.addEventListener("input", () => {
    lookupSoon(input);
    if (role === "sdx" || role === "px") ensureTrailingRow(role);
  });
  input.addEventListener("blur", () => finalCheck(input));
  return row;
}

function rowsOf(role) {
  const box = { admit: "#admit-row", pdx: "#pdx-row", sdx: "#sdx-rows", px: "#px-rows" }[role];
  return $$(".row", $(box));
}

function addRow(role) {
  const kind = role === "px" ? "procedure" : "diagnosis";
  const row = makeRow(kind, role);
  const box = { admit: "#admit-row", pdx: "#pdx-row", sdx: "#sdx-rows", px: "#px-rows" }[role];
  $(box).append(row);
  renumber(role);
  return row;
}

function renumber(role) {
  if (role !== "sdx" && role !== "px") return;
  rowsOf(role).forEach((row, i) => {
    const label = $(".rowlabel", row);
    label.textContent = (role === "sdx" ? "Secondary dx " : "Procedure ") + (i + 1);
    const poa = $(".poa", row);
    if (poa) poa.setAttribute("aria-label", "Secondary diagnosis " + (i + 1) + " POA");
  });
}

function ensureTrailingRow(role) {
  const rows = rowsOf(role);
  const last = rows[rows.length - 1];
  if (!last || $(".code", last).value.trim() !== "") addRow(role);
}

function setRows(role, items) {
  const box = { sdx: "#sdx-rows", px: "#px-rows" }[role];
  $(box).replaceChildren();
  for (const item of items) {
    const row = addRow(role);
    fillRow(row, item);
  }
  addRow(role);
}

function fillRow(row, item) {
  const input = $(".code", row);
  const poa = $(".poa", row);
  if (item === null || item === undefined) item = "";
  const code = typeof item === "object" ? item.code : item;
  input.value = code === null || code === undefined ? "" : String(code);
  if (poa) poa.value = typeof item === "object" && item.poa ? String(item.poa).trim().toUpperCase() : "";
  if (input.value) lookupSoon(input, 0);
  else markCode(input, "", "");
}

// ---------------------------------------------------------------------------------------------
// Look-up as one types

const normalize = (code) => String(code || "").replace(/\./g, "").trim().toUpperCase();

function lookupVersion() {
  const chosen = $("#version").value;
  if (chosen) return chosen;
  const date = $("#discharge_date").value;
  if (date) {
    const hit = state.versions.find((v) => v.first_discharge_date <= date && date <= v.last_discharge_date);
    if (hit) return hit.version;
  }
  return state.latest;
}

const timers = new WeakMap();

function lookupSoon(input, delay = 150) {
  clearTimeout(timers.get(input));
  timers.set(input, setTimeout(() => lookup(input), delay));
}

async function codesByPrefix(prefix, kind, limit) {
  const version = lookupVersion();
  if (!version || !state.features.codes) return null;
  const q = new URLSearchParams({ prefix, version, kind, limit: String(limit) });
  const r = await api("/v1/codes?" + q.toString());
  if (r.status !== 200 || !r.body) return null;
  for (const c of r.body.codes) state.titles.set(version + "|" + c.kind + "|" + c.code, c.title);
  return r.body;
}

async function lookup(input) {
  const code = normalize(input.value);
  const kind = input.dataset.kind;
  if (!code) { markCode(input, "", ""); return; }
  if (!/^[A-Z0-9]{1,8}$/.test(code)) { markCode(input, "bad", "Not an ICD-10 code: letters and digits only."); return; }
  const seq = String(++state.seq);
  input.dataset.seq = seq;
  const found = await codesByPrefix(code, kind, 15);
  if (input.dataset.seq !== seq || found === null) return;
  const list = $("#dl-" + kind);
  if (document.activeElement === input) {
    list.replaceChildren(...found.codes.map((c) => el("option", { value: c.code, label: c.code + "  " + (c.title || "") })));
  }
  const exact = found.codes.find((c) => c.code === code);
  if (exact) markCode(input, "ok", exact.title || "(valid; no title in " + (found.titles ? "the title release" : "this install") + ")");
  else if (found.codes.length === 0) markCode(input, "bad", "No " + kind + " code " + (code.length < 3 ? "starts with " : "") + code + " in version " + found.version + ".");
  else markCode(input, "", found.codes.length + (found.more ? "+" : "") + " codes start with " + code + "…");
}

async function finalCheck(input) {
  const code = normalize(input.value);
  if (!code) return;
  await lookup(input);
  if (input.dataset.state === "") {
    markCode(input, "bad", "Incomplete: " + code + " is not a valid " + input.dataset.kind + " code in " + lookupVersion() + ".");
  }
}

function markCode(input, status, text) {
  input.dataset.state = status;
  input.setAttribute("aria-invalid", status === "bad" ? "true" : "false");
  const title = document.getElementById(input.getAttribute("aria-describedby"));
  if (title) {
    title.textContent = text;
    title.title = text;
    title.dataset.state = status;
  }
}

// ---------------------------------------------------------------------------------------------
// Paste: a line of codes, or a claim's JSON

const PCS_FIRST = /^[0-9BCDFGHX]/;

async function classify(code) {
  // Diagnosis codes start with a letter; PCS codes are 7 characters, mostly starting with a digit.
  if (/^[0-9]/.test(code)) return "procedure";
  if (code.length !== 7 || !PCS_FIRST.test(code)) return "diagnosis";
  const asPx = await codesByPrefix(code, "procedure", 1);
  if (asPx && asPx.codes.some((c) => c.code === code)) return "procedure";
  return "diagnosis";
}

async function fillFromText(text) {
  const raw = text.trim();
  if (!raw) return false;
  if (raw.startsWith("{") || raw.startsWith("[")) {
    let doc;
    try { doc = JSON.parse(raw); } catch (err) {
      showMessage("The pasted text is not valid JSON: " + err.message, "warn");
      return false;
    }
    if (Array.isArray(doc)) doc = doc[0];
    if (doc && Array.isArray(doc.claims)) doc = doc.claims[0];
    if (!doc || typeof doc !== "object") { showMessage("The pasted JSON holds no claim.", "warn"); return false; }
    if (typeof doc.resourceType === "string") {  // FHIR R4: a Claim, an EOB, an encounter Bundle
      const claim = fhirToClaim(doc);
      if (!claim) { showMessage("The pasted FHIR resource holds no Claim, ExplanationOfBenefit or Encounter.", "warn"); return false; }
      doc = claim;
    }
    fillFromClaim(doc);
    return true;
  }
  const tokens = raw.split(/[\s,;|]+/).filter(Boolean);
  const dx = [];
  const px = [];
  for (const token of tokens) {
    const m = /^([A-Za-z0-9.]+)(?:[:\-/=]([YNUWynuw1]))?$/.exec(token);
    if (!m) continue;
    const code = normalize(m[1]);
    if (!code) continue;
    const item = { code, poa: m[2] ? m[2].toUpperCase() : "" };
    if ((await classify(code)) === "procedure") px.push(code);
    else dx.push(item);
  }
  if (!dx.length && !px.length) { showMessage("No codes found in the pasted text.", "warn"); return false; }
  if (dx.length) fillRow(rowsOf("pdx")[0], dx[0]);
  setRows("sdx", dx.slice(1));
  setRows("px", px);
  return true;
}

// A pasted FHIR resource -> the form's claim, as docs/fhir.md maps it (the service's reader,
// engine/io/fhir.py, is the reference: grouping the form gives what POST /fhir/…/$group gives).
// Code systems are compared without their scheme (the page's assets name no host).
const FHIR = {
  icd10cm: "hl7.org/fhir/sid/icd-10-cm",
  icd10pcs: "www.cms.gov/Medicare/Coding/ICD10",
  nubcDischarge: "www.nubc.org/CodeSystem/PatDischargeStatus",
  poaExtension: "urn:fastdrg:fhir:StructureDefinition:present-on-admission",
  hospitalExtension: "urn:fastdrg:fhir:StructureDefinition:hospital-status",
};
const codings = (cc) => (cc && Array.isArray(cc.coding) ? cc.coding : []);
const codeOf = (cc, system) => {
  const c = codings(cc).find((x) => !system || String(x.system || "").replace(/^https?:\/\//, "") === system);
  return c && typeof c.code === "string" ? c.code : "";
};
const hasCode = (cc, code) => codings(cc).some((x) => x.code === code);
const ext = (el, url) => ((el && el.extension) || []).find((x) => x.url === url)?.valueCode;
const bySequence = (list, key) => list.map((x, i) => [x, i]).sort((a, b) =>
  ((a[0][key] ?? 1e9) - (b[0][key] ?? 1e9)) || a[1] - b[1]).map((p) => p[0]);

function fhirAge(patient, on) {
  const b = patient && /^\d{4}-\d{2}-\d{2}/.test(patient.birthDate || "") ? patient.birthDate : null;
  if (!b || !on) return undefined;
  const [by, bm, bd] = b.slice(0, 10).split("-").map(Number);
  const [y, m, d] = on.slice(0, 10).split("-").map(Number);
  return y - by - ((m < bm || (m === bm && d < bd)) ? 1 : 0);
}

function fhirSex(patient) {
  const g = patient && patient.gender;
  return g === "female" ? "F" : g === "male" ? "M" : "U";
}

function fhirToClaim(doc) {
  const entries = doc.resourceType === "Bundle" && Array.isArray(doc.entry) ? doc.entry : [];
  const find = (ref, holder) => {
    if (!ref || typeof ref.reference !== "string") return null;
    const r = ref.reference;
    if (r.startsWith("#")) return ((holder && holder.contained) || []).find((c) => c.id === r.slice(1)) || null;
    const e = entries.find((x) => x.fullUrl === r || (x.resource && `${x.resource.resourceType}/${x.resource.id}` === r));
    return e ? e.resource : null;
  };
  const res = (type) => entries.map((e) => e.resource).filter((r) => r && r.resourceType === type);
  const encounter = res("Encounter")[0];
  if (encounter) {
    const period = encounter.period || {};
    const patient = find(encounter.subject, encounter);
    const dx = (encounter.diagnosis || []).filter((d) => !hasCode(d.use, "AD")).map((d, i) => {
      const cond = find(d.condition, encounter);
      return { rank: d.rank, i, code: codeOf(cond && cond.code, FHIR.icd10cm), poa: ext(d, FHIR.poaExtension) || "" };
    }).sort((a, b) => ((a.rank ?? 1e9) - (b.rank ?? 1e9)) || a.i - b.i);
    const admitting = (encounter.diagnosis || []).find((d) => hasCode(d.use, "AD"));
    const admitCond = admitting && find(admitting.condition, encounter);
    return {
      id: encounter.id, discharge_date: period.end, age: fhirAge(patient, period.start || period.end),
      sex: fhirSex(patient), hospital_status: ext(encounter, FHIR.hospitalExtension),
      discharge_status: codeOf((encounter.hospitalization || {}).dischargeDisposition, FHIR.nubcDischarge),
      admit_dx: admitCond ? codeOf(admitCond.code, FHIR.icd10cm) : "",
      pdx: dx[0] ? { code: dx[0].code, poa: dx[0].poa } : "", sdx: dx.slice(1).map((d) => ({ code: d.code, poa: d.poa })),
      procedures: res("Procedure").map((p) => codeOf(p.code, FHIR.icd10pcs)).filter(Boolean),
    };
  }
  const claim = ["Claim", "ExplanationOfBenefit"].includes(doc.resourceType) ? doc
    : [...res("Claim"), ...res("ExplanationOfBenefit")][0];
  if (!claim) return null;
  const info = (cat) => (claim.supportingInfo || []).find((x) => hasCode(x.category, cat));
  const period = (info("admissionperiod") || {}).timingPeriod || claim.billablePeriod || {};
  const patient = find(claim.patient, claim);
  const status = info("discharge-status");
  const typed = (d, t) => (d.type || []).some((cc) => hasCode(cc, t));
  const dxs = bySequence(claim.diagnosis || [], "sequence").map((d) => ({
    d, code: codeOf(d.diagnosisCodeableConcept, FHIR.icd10cm), poa: codeOf(d.onAdmission) || "" }));
  const principal = dxs.find((x) => typed(x.d, "principal"));
  const admitting = dxs.find((x) => typed(x.d, "admitting"));
  const others = dxs.filter((x) => x !== principal && !(x === admitting && x.d.type.length === 1));
  const secondary = [...others.filter((x) => !typed(x.d, "externalcauseofinjury")),
    ...others.filter((x) => typed(x.d, "externalcauseofinjury"))];
  return {
    id: claim.id, discharge_date: period.end, age: fhirAge(patient, period.start || period.end), sex: fhirSex(patient),
    hospital_status: ext(claim, FHIR.hospitalExtension),
    discharge_status: status ? codeOf(status.code, FHIR.nubcDischarge) || codeOf(status.code) : "",
    admit_dx: admitting ? admitting.code : "",
    pdx: principal ? { code: principal.code, poa: principal.poa } : "",
    sdx: secondary.map((x) => ({ code: x.code, poa: x.poa })),
    procedures: bySequence(claim.procedure || [], "sequence").map((p) => codeOf(p.procedureCodeableConcept, FHIR.icd10pcs))
      .filter(Boolean),
  };
}

function fillFromClaim(c) {
  const v = c.version === null || c.version === undefined ? "" : String(c.version).trim();
  const label = /^\d{3}$/.test(v) ? v.slice(0, 2) + "." + v[2] : v;
  $("#version").value = state.versions.some((x) => x.version === label) ? label : "";
  $("#version").dataset.touched = "1";
  $("#discharge_date").value = typeof c.discharge_date === "string" ? c.discharge_date.slice(0, 10) : "";
  $("#age").value = c.age === undefined || c.age === null ? "" : String(c.age).trim();
  const sex = c.sex === 0 ? "M" : c.sex === 1 ? "F" : c.sex === 2 ? "U" : String(c.sex || "").trim().toUpperCase();
  $("#sex").value = ["M", "F", "U"].includes(sex) ? sex : "U";
  const ds = c.discharge_status === undefined || c.discharge_status === null ? "" : String(c.discharge_status).trim();
  $("#discharge_status").value = /^\d$/.test(ds) ? "0" + ds : ds;
  $("#hospital_status").value = ["not_exempt", "exempt", "unknown"].includes(String(c.hospital_status || "").toLowerCase())
    ? String(c.hospital_status).toLowerCase() : "";
  const los = c.length_of_stay ?? c.los;
  $("#los").value = los === undefined || los === null ? "" : String(los);
  fillRow(rowsOf("admit")[0], c.admit_dx || "");
  fillRow(rowsOf("pdx")[0], c.pdx || "");
  setRows("sdx", Array.isArray(c.sdx) ? c.sdx : []);
  setRows("px", Array.isArray(c.procedures) ? c.procedures : []);
  state.claimId = c.id;
}

// ---------------------------------------------------------------------------------------------
// The claim, as the form holds it

function buildClaim() {
  const claim = {};
  if (state.claimId !== undefined && state.claimId !== null) claim.id = state.claimId;
  const version = $("#version").value;
  const date = $("#discharge_date").value;
  if (version) claim.version = version;
  else if (date) claim.discharge_date = date;
  const age = $("#age").value.trim();
  if (age) claim.age = /^\d+$/.test(age) ? Number(age) : age;  // empty: left out (the service says "missing")
  claim.sex = $("#sex").value;
  const ds = $("#discharge_status").value.trim();
  if (ds) claim.discharge_status = /^\d+$/.test(ds) ? ds.padStart(2, "0") : ds;
  const hs = $("#hospital_status").value;
  if (hs) claim.hospital_status = hs;
  const los = $("#los").value.trim();
  if (los && state.features.losField) claim[state.features.losField] = Number(los);
  const code = (row) => $(".code", row).value.trim();
  const admit = code(rowsOf("admit")[0]);
  if (admit) claim.admit_dx = admit;
  const pdxRow = rowsOf("pdx")[0];
  if (code(pdxRow)) claim.pdx = { code: code(pdxRow), poa: $(".poa", pdxRow).value };
  claim.sdx = rowsOf("sdx").filter((r) => code(r)).map((r) => ({ code: code(r), poa: $(".poa", r).value }));
  claim.procedures = rowsOf("px").filter((r) => code(r)).map((r) => code(r));
  return claim;
}

// ---------------------------------------------------------------------------------------------
// Grouping

async function group() {
  const claim = buildClaim();
  state.lastClaim = claim;
  const useEdits = state.features.edits;
  const url = "/v1/group" + (useEdits ? "?edits=true" : "");
  state.lastUrl = url;
  $("#group").disabled = true;
  $("#answer").setAttribute("aria-busy", "true");
  try {
    const r = await api(url, { method: "POST", json: claim });
    if (r.status === 200 && r.body) {
      state.lastResult = r.body;
      await render(r.body, claim);
      if (state.features.whatIf) whatIf(claim, r.body);
    } else if (r.body && r.body.type && r.body.errors) {
      state.lastResult = r.body;
      renderProblem(r.body);
    } else if (r.status === 401) {
      showMessage("The service needs an API key: enter it at the top.", "warn");
    } else if (r.status === 503) {
      showMessage("The grouping engine is still loading; try again in a moment.", "warn");
    } else {
      showMessage(r.error || "Unexpected answer (HTTP " + r.status + ").", "warn");
    }
  } finally {
    $("#group").disabled = false;
    $("#answer").removeAttribute("aria-busy");
  }
}

function showMessage(text, kind) {
  $("#answer").replaceChildren(el("p", { class: "message " + (kind || ""), role: "alert", text }));
}

function fieldElement(field) {
  const m = /^(\w+)(?:\[(\d+)\])?(?:\.(\w+))?/.exec(field || "");
  if (!m) return null;
  const [, name, index, sub] = m;
  const pick = (role, i) => {
    const rows = rowsOf(role);
    const row = rows[Number(i || 0)];
    if (!row) return null;
    return sub === "poa" ? $(".poa", row) : $(".code", row);
  };
  if (name === "sdx") return pick("sdx", index);
  if (name === "procedures") return pick("px", index);
  if (name === "pdx") return pick("pdx", 0);
  if (name === "admit_dx") return pick("admit", 0);
  if (name === "version") return $("#version").value ? $("#version") : $("#discharge_date");
  return document.getElementById(name);
}

function renderProblem(problem) {
  $$("[data-problem]").forEach((n) => { n.removeAttribute("data-problem"); n.setAttribute("aria-invalid", "false"); });
  const items = (problem.errors || []).map((e) => {
    const target = fieldElement(e.field);
    if (target) { target.dataset.problem = "1"; target.setAttribute("aria-invalid", "true"); }
    return el("li", {}, el("code", { text: e.field }), " ", e.reason);
  });
  $("#answer").replaceChildren(
    el("div", { class: "problem", role: "alert" },
      el("h2", { text: "Not grouped: " + problem.title }),
      el("p", { text: problem.detail }),
      el("ul", {}, items)),
    copyBar(),
  );
  const first = $("[data-problem]");
  if (first) first.focus();
}

// ---------------------------------------------------------------------------------------------
// The answer

const SEVERITY = {
  MCC: ["mcc", "MCC"], CC: ["cc", "CC"], NEITHER: ["", ""],
  MCC_EXCLUDED: ["excl", "MCC · excluded by the principal dx"],
  CC_EXCLUDED: ["excl", "CC · excluded by the principal dx"],
  MCC_EXCLUDED_BY_DRG_LOGIC: ["excl", "MCC · not counted by the DRG's logic"],
  CC_EXCLUDED_BY_DRG_LOGIC: ["excl", "CC · not counted by the DRG's logic"],
};
const AFFECTS = { NONE: "", INITIAL: "initial DRG", FINAL: "final DRG", BOTH: "yes" };
const POA_CHECK = {
  POA_NOT_CHECKED: "", POA_NOT_RECOGNIZED: "POA not recognized", POA_RECOGNIZED_NOT_POA: "not POA",
  POA_RECOGNIZED_YES_POA: "POA", HOSPITAL_EXEMPT: "hospital exempt",
};
const RETURN_TEXT = {
  OK: "", INVALID_PDX: "The principal diagnosis is not a valid code in this version.",
  DX_CANNOT_BE_PDX: "This diagnosis cannot be a principal diagnosis.",
  INVALID_SEX: "The sex is invalid for this grouping.", INVALID_DISCHARGE_STATUS: "The discharge status is invalid.",
  HAC_MISSING_ONE_POA: "A HAC diagnosis is missing its POA.",
  HAC_STATUS_INVALID_POA_N_OR_U: "HAC: POA N or U.", HAC_STATUS_INVALID_POA_INVALID_OR_1: "HAC: POA invalid or 1.",
  HAC_STATUS_INVALID_MULT_HACS_POA_NOT_Y_W: "HAC: several HACs with POA not Y/W.",
};
const HAC_STATUS = {
  NOT_APPLICABLE: "", FINAL_DRG_NO_CHANGE: "HAC criteria met; the DRG did not change",
  FINAL_DRG_CHANGES: "HAC criteria met: the final DRG differs from the initial DRG",
  FINAL_DRG_UNGROUPABLE: "HAC criteria met: the final DRG is ungroupable",
};
const PAYMENT_KEYS = ["weight", "initial_weight", "adjusted_weight", "transfer", "gmlos", "amlos", "fiscal_year", "payment_estimate"];

function badge(cls, text, title) {
  return text ? el("span", { class: "badge " + cls, title: title || null, text }) : "";
}

function severityCell(usage) {
  if (!usage) return "";
  const [fc, ft] = SEVERITY[usage.final] || ["", usage.final];
  if (usage.initial === usage.final) return badge(fc, ft);
  const [ic, it] = SEVERITY[usage.initial] || ["", usage.initial];
  return el("span", {}, badge(ic, it || "none", "for the initial DRG"), " → ", badge(fc, ft || "none", "for the final DRG"));
}

function drgCard(label, drg, title, mdc, mdcTitle, extra) {
  return el("div", { class: "drg" },
    el("p", { class: "label", text: label }),
    el("p", { class: "num" }, el("span", { class: "big", "data-test": label.startsWith("Initial") ? "initial-drg" : "drg", text: drg })),
    el("p", { class: "dtitle", text: title }),
    el("p", { class: "mdc" }, "MDC ", el("strong", { text: mdc }), " · " + mdcTitle),
    extra || "");
}

async function titlesFor(version, items) {
  const missing = items.filter(([kind, code]) => !state.titles.has(version + "|" + kind + "|" + code));
  await Promise.all(missing.map(async ([kind, code]) => {
    if (!/^[A-Z0-9]{1,8}$/.test(code)) return;
    const q = new URLSearchParams({ prefix: code, version, kind, limit: "1" });
    const r = await api("/v1/codes?" + q.toString());
    const hit = r.status === 200 && r.body ? r.body.codes.find((c) => c.code === code) : null;
    state.titles.set(version + "|" + kind + "|" + code, hit ? hit.title : null);
  }));
}

function editsByCode(result) {
  // The code editor's answer (when the service has one): per code an "edits" list of edit
  // names; at the top "edits" {name: count}, "edit_type", "not_checked", or "edit_error".
  const out = { all: [], byCode: new Map(), type: result.edit_type || null, notChecked: result.not_checked || [], error: result.edit_error || null };
  const codes = [result.pdx, ...(result.sdx || []), ...(result.procedures || [])].filter(Boolean);
  for (const c of codes) {
    if (Array.isArray(c.edits) && c.edits.length) out.byCode.set(c.code, c.edits.map(editName));
  }
  const top = result.edits;
  if (top && typeof top === "object" && !Array.isArray(top)) {
    for (const [name, count] of Object.entries(top)) {
      const on = Array.from(out.byCode.entries()).filter(([, list]) => list.includes(editName(name))).map(([code]) => code);
      out.all.push({ text: editName(name) + (count > 1 ? " ×" + count : ""), codes: on });
    }
  } else if (Array.isArray(top)) {
    for (const e of top) out.all.push({ text: typeof e === "string" ? editName(e) : JSON.stringify(e), codes: [] });
  }
  return out;
}

const editName = (name) => String(name).replace(/_/g, " ").toLowerCase().replace(/^./, (c) => c.toUpperCase());

async function render(res, claim) {
  const version = res.version;
  const items = [];
  if (res.pdx) items.push(["diagnosis", res.pdx.code]);
  for (const d of res.sdx || []) items.push(["diagnosis", d.code]);
  for (const p of res.procedures || []) items.push(["procedure", p.code]);
  const admit = claim.admit_dx ? normalize(typeof claim.admit_dx === "object" ? claim.admit_dx.code : claim.admit_dx) : null;
  if (admit) items.push(["diagnosis", admit]);
  if (state.features.codes) await titlesFor(version, items);
  const title = (kind, code) => state.titles.get(version + "|" + kind + "|" + code) || "";
  const edits = editsByCode(res);

  const changed = res.initial_drg !== res.drg;
  const ungroupable = res.drg === "999" || res.return_code !== "OK";
  const head = el("div", { class: "drgs" + (changed ? " changed" : "") });
  if (changed) {
    head.append(drgCard("Initial DRG (before HAC)", res.initial_drg, "", res.initial_mdc, ""));
  }
  head.append(drgCard(changed ? "Final DRG" : "DRG", res.drg, res.drg_description, res.mdc, res.mdc_description,
    el("p", { class: "tags" },
      badge(res.med_surg === "SURGICAL" ? "surg" : res.med_surg === "MEDICAL" ? "med" : "none", res.med_surg),
      " ", badge("sev", res.severity ? "severity " + res.severity.final : ""),
      " ", badge("ver", "v" + version))));
  if (changed) fillInitialTitle(head, res);

  const notes = [];
  if (res.return_code !== "OK") notes.push(el("p", { class: "warn", "data-test": "return-code" }, el("strong", { text: res.return_code }), " — " + (RETURN_TEXT[res.return_code] || "")));
  if (HAC_STATUS[res.hac_status]) notes.push(el("p", { class: "warn", "data-test": "hac-status" }, el("strong", { text: "HAC" }), " — " + HAC_STATUS[res.hac_status]));

  // Weights and estimate (when the service has reimbursement): only what the answer carries.
  const payment = PAYMENT_KEYS.filter((k) => res[k] !== undefined && res[k] !== null && !(k === "initial_weight" && !changed));
  let payBox = "";
  if (res.weights_missing) payBox = el("p", { class: "warn", text: "Weights: " + res.weights_missing });
  else if (payment.length) {
    payBox = el("dl", { class: "payment", "aria-label": "Weight and estimate" },
      payment.flatMap((k) => {
        const v = res[k];
        if (k === "payment_estimate") {
          return [el("dt", { text: "estimate" }), el("dd", { "data-test": k, title: v.note || "", text: "$" + Number(v.amount).toFixed(2) + " at base rate $" + Number(v.base_rate).toFixed(2) })];
        }
        return [el("dt", { text: k.replace(/_/g, " ") }), el("dd", { "data-test": k, text: fmt(v) })];
      }),
      changed && typeof res.initial_weight === "number" && typeof res.weight === "number"
        ? [el("dt", { text: "HAC cost (weight)" }), el("dd", { text: fmt(Math.round((res.initial_weight - res.weight) * 1e4) / 1e4) })] : []);
  }

  const rows = [];
  const dxRow = (role, d) => rows.push(el("tr", { "data-code": d.code },
    el("th", { scope: "row", text: role }),
    el("td", {}, el("code", { text: d.code })),
    el("td", { class: "ttl", text: title("diagnosis", d.code) }),
    el("td", { text: d.poa || "" }),
    el("td", {}, severityCell(d.severity_usage)),
    el("td", { text: AFFECTS[d.affects_drg] ?? d.affects_drg }),
    el("td", { text: POA_CHECK[d.poa_error] ?? d.poa_error }),
    el("td", {}, (d.hacs || []).map((h) => badge(h.status === "HAC_CRITERIA_MET" ? "hac" : "", "HAC " + String(h.number).padStart(2, "0") + ": " + h.status.replace(/^HAC_/, "").replace(/_/g, " ").toLowerCase()))),
    el("td", { class: "edits" }, (edits.byCode.get(d.code) || []).map((t) => badge("edit", t)))));
  if (admit) rows.push(el("tr", { "data-code": admit },
    el("th", { scope: "row", text: "Admit" }), el("td", {}, el("code", { text: admit })),
    el("td", { class: "ttl", text: title("diagnosis", admit) }), el("td"), el("td"), el("td"), el("td"), el("td"),
    el("td", { class: "edits" }, (edits.byCode.get(admit) || []).map((t) => badge("edit", t)))));
  if (res.pdx) dxRow("Principal", res.pdx);
  (res.sdx || []).forEach((d, i) => dxRow("Secondary " + (i + 1), d));
  (res.procedures || []).forEach((p, i) => rows.push(el("tr", { "data-code": p.code },
    el("th", { scope: "row", text: "Procedure " + (i + 1) }),
    el("td", {}, el("code", { text: p.code })),
    el("td", { class: "ttl", text: title("procedure", p.code) }),
    el("td"),
    el("td", {}, p.is_or ? badge("or", "O.R.") : badge("", "non-O.R.")),
    el("td", { text: AFFECTS[p.affects_drg] ?? p.affects_drg }),
    el("td"),
    el("td", {}, (p.hac_usage || []).map((h) => badge("hac", h.replace("_", " ")))),
    el("td", { class: "edits" }, (edits.byCode.get(p.code) || []).map((t) => badge("edit", t))))));

  const table = el("table", { class: "codes-table" },
    el("caption", { text: "Codes as the grouper used them" }),
    el("thead", {}, el("tr", {}, ["", "Code", "Title", "POA", "CC/MCC", "Affects DRG", "POA check", "HAC", "Edits"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows));

  const editPanel = (edits.all.length || edits.type || edits.error) ? el("section", { class: "panel", "aria-label": "Code editor" },
    el("h2", { text: "Code editor" + (edits.type ? " — " + edits.type.replace(/_/g, " ").toLowerCase() : "") + " (" + edits.all.length + " edit" + (edits.all.length === 1 ? "" : "s") + ")" }),
    edits.error ? el("p", { class: "warn", text: edits.error.reason || JSON.stringify(edits.error) }) : "",
    el("ul", { "data-test": "edits" }, edits.all.map((e) => el("li", {}, e.text, e.codes.length ? " — " : "", e.codes.length ? el("code", { text: e.codes.join(", ") }) : ""))),
    edits.notChecked.length ? el("p", { class: "hint", text: "Not checked: " + edits.notChecked.map(editName).join(", ") }) : "") : "";

  $("#answer").replaceChildren(
    head,
    ...notes,
    payBox,
    table,
    editPanel,
    el("section", { id: "whatif", class: "panel", hidden: true }),
    copyBar(),
  );
  $("#answer").classList.toggle("ungroupable", ungroupable);
}

async function fillInitialTitle(head, res) {
  const r = await api("/v1/drgs/" + res.initial_drg + "?version=" + encodeURIComponent(res.version));
  if (r.status === 200 && r.body) {
    const card = $(".drg", head);
    $(".dtitle", card).textContent = r.body.description || "";
    $(".mdc", card).replaceChildren("MDC ", el("strong", { text: r.body.mdc }), " · " + (r.body.mdc_description || ""));
  }
}

function fmt(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

async function whatIf(claim, result) {
  // POST /v1/what-if (when the service has it): each secondary dx and procedure removed, and
  // the codes typed in "try adding", each on its own; the panel lists what changes the DRG.
  const box = $("#whatif");
  if (!box) return;
  const remove = [...(result.sdx || []), ...(result.procedures || [])].map((c) => c.code);
  const adds = normalize($("#whatif-add") ? $("#whatif-add").value : "").length ? $("#whatif-add").value.split(/[\s,;]+/).filter(Boolean) : [];
  const addSdx = [];
  const addPx = [];
  for (const code of adds) ((await classify(normalize(code))) === "procedure" ? addPx : addSdx).push(normalize(code));
  const r = await api("/v1/what-if", { method: "POST", json: { claim, add_sdx: addSdx, add_procedures: addPx, remove } });
  if (r.status !== 200 || !r.body) return; // 404 until the route exists: no panel
  const changes = Array.isArray(r.body.changes) ? r.body.changes : [];
  const labels = [...addSdx.map((c) => "add " + c), ...addPx.map((c) => "add " + c), ...remove.map((c) => "remove " + c)];
  const rows = changes.map((x, i) => {
    // the answer's changes are in request order (add_sdx, add_procedures, remove): "remove N170"
    const change = labels[i] || [x.change, typeof x.code === "string" ? x.code : ""].join(" ").trim();
    if (x.error) return el("tr", {}, el("td", { text: change }), el("td", { colspan: "4", text: x.error.reason || "cannot be tried" }));
    const delta = typeof x.weight_delta === "number" ? (x.weight_delta > 0 ? "+" : "") + fmt(x.weight_delta) : "";
    return el("tr", { class: x.drg_changes ? "changes" : "" },
      el("td", {}, el("code", { text: change })),
      el("td", { text: x.drg + (x.drg_description ? " " + x.drg_description : "") }),
      el("td", { text: x.counts_as || "" }),
      el("td", { text: delta }),
      el("td", { text: x.drg_changes ? "DRG changes" : "" }));
  });
  rows.sort((a, b) => (b.className === "changes") - (a.className === "changes"));
  box.replaceChildren(
    el("h2", { text: "What if — one change at a time" }),
    el("label", {}, "Try adding ", el("input", { id: "whatif-add", size: "30", spellcheck: "false", placeholder: "codes, e.g. J96.01 N17.9", value: adds.join(" ") }), " ",
      el("button", { type: "button", id: "whatif-run", text: "Try" })),
    el("table", { class: "codes-table", "data-test": "what-if" },
      el("thead", {}, el("tr", {}, ["Change", "DRG", "Counts as", "Weight Δ", ""].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows)));
  box.hidden = false;
}

// ---------------------------------------------------------------------------------------------
// Copy as JSON / as curl

function copyBar() {
  return el("div", { class: "copy" },
    el("button", { type: "button", id: "copy-json", text: "Copy result as JSON" }),
    el("button", { type: "button", id: "copy-curl", text: "Copy request as curl" }),
    el("span", { id: "copied", role: "status", "aria-live": "polite" }));
}

function curlLine() {
  const body = JSON.stringify(state.lastClaim).replace(/'/g, "'\\''");
  const key = $("#apikey").value.trim() ? " -H 'X-API-Key: $FASTDRG_API_KEY'" : "";
  return "curl -sS -X POST '" + location.origin + state.lastUrl + "' -H 'Content-Type: application/json'" + key + " -d '" + body + "'";
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {
    const area = el("textarea", { class: "offscreen", "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  state.copied = text;
  $("#copied").textContent = "Copied.";
}

// ---------------------------------------------------------------------------------------------
// Wiring

function clearForm() {
  $("#claim").reset();
  $("#version").value = state.latest || "";
  state.claimId = undefined;
  fillRow(rowsOf("admit")[0], "");
  fillRow(rowsOf("pdx")[0], "");
  setRows("sdx", []);
  setRows("px", []);
  $("#answer").replaceChildren(el("p", { class: "hint", text: "Cleared." }));
  $("#age").focus();
}

function init() {
  addRow("admit");
  addRow("pdx");
  setRows("sdx", []);
  setRows("px", []);
  const form = $("#claim");
  form.addEventListener("submit", (ev) => { ev.preventDefault(); group(); });
  form.addEventListener("keydown", (ev) => {
    // Enter groups from any field (selects included); in the paste box it fills the form first.
    if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing) return;
    const t = ev.target;
    if (t.id === "paste") {
      ev.preventDefault();
      fillFromText(t.value).then((ok) => { if (ok) group(); });
      return;
    }
    if (t.tagName === "BUTTON") return;
    ev.preventDefault();
    group();
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); group(); }
  });
  $("#fill").addEventListener("click", () => fillFromText($("#paste").value));
  $("#paste").addEventListener("paste", () => setTimeout(() => fillFromText($("#paste").value), 0));
  $("#clear").addEventListener("click", clearForm);
  $("#version").addEventListener("change", () => { $("#version").dataset.touched = "1"; $$(".code").forEach((i) => i.value && lookupSoon(i, 0)); });
  $("#discharge_date").addEventListener("change", () => { if ($("#discharge_date").value && !$("#version").dataset.touched) $("#version").value = ""; });
  $("#apikey").addEventListener("change", loadVersions);
  $("#answer").addEventListener("click", (ev) => {
    if (ev.target.id === "copy-json") copy(JSON.stringify(state.lastResult, null, 2));
    if (ev.target.id === "copy-curl") copy(curlLine());
    if (ev.target.id === "whatif-run" && state.lastResult) whatIf(state.lastClaim, state.lastResult);
  });
  detectFeatures().then(loadVersions);
  $("#age").focus();
}

// for the browser tests and for a console: what the page sent and got (memory only)
window.fastdrgWorkbench = { state, buildClaim, fillFromText, group };

document.addEventListener("DOMContentLoaded", init);
