/* fastdrg case-mix charts and tables: one renderer for the HTML report (engine.analytics.report,
   inlined) and the workbench's "Analyze a file" view (served by the service).
   Needs Plotly (plotly.min.js from the plotly package, shipped with fastdrg: never a CDN).
   Everything is built with DOM calls and textContent: no HTML from the data. */
(function (root) {
  "use strict";
  var TOP_DRGS = 20, TOP_SHIFTS = 15;
  var CONFIG = {displayModeBar: false, responsive: true};
  var COLORS = {main: "#1f5f8b", alt: "#c96d1b", mcc: "#8b1f3f", cc: "#c96d1b", none: "#9aa5ad"};

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function num(x, digits) {
    if (x === null || x === undefined) return "—";
    if (typeof x !== "number") return String(x);
    return digits === undefined ? x.toLocaleString("en-US")
      : x.toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }
  function pct(part, whole) { return whole ? (100 * part / whole).toFixed(1) + "%" : "—"; }

  function table(headers, rows, numeric) {
    var t = el("table", "cm-table"), thead = el("thead"), tr = el("tr");
    headers.forEach(function (h, i) { var th = el("th", numeric && numeric[i] ? "num" : "", h); tr.appendChild(th); });
    thead.appendChild(tr); t.appendChild(thead);
    var tb = el("tbody");
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c, i) { row.appendChild(el("td", numeric && numeric[i] ? "num" : "", c)); });
      tb.appendChild(row);
    });
    if (!rows.length) { var empty = el("tr"), td = el("td", "cm-none", "none"); td.colSpan = headers.length; empty.appendChild(td); tb.appendChild(empty); }
    t.appendChild(tb);
    return t;
  }

  function section(parent, id, title, note) {
    var s = el("section", "cm-section");
    s.id = "cm-" + id;
    s.appendChild(el("h2", "", title));
    if (note) s.appendChild(el("p", "cm-note", note));
    parent.appendChild(s);
    return s;
  }

  function chart(sec, id, data, layout) {
    var div = el("div", "cm-chart");
    div.id = "cm-chart-" + id;
    div.setAttribute("data-chart", id);
    sec.appendChild(div);
    var base = {margin: {l: 60, r: 20, t: 10, b: 40}, height: 320, paper_bgcolor: "rgba(0,0,0,0)",
                plot_bgcolor: "rgba(0,0,0,0)", font: {family: "system-ui, sans-serif", size: 12}, showlegend: false};
    Object.keys(layout || {}).forEach(function (k) { base[k] = layout[k]; });
    if (root.Plotly) root.Plotly.newPlot(div, data, base, CONFIG);
    else div.appendChild(el("p", "cm-note", "(charts need plotly.min.js)"));
    return div;
  }

  function headline(parent, s) {
    var box = el("div", "cm-headline");
    var cmi = s.case_mix_index;
    var cards = [
      ["claims", "Claims read", num(s.claims)],
      ["grouped", "Grouped", num(s.grouped)],
      ["refused", "Refused", num(s.refused.total)],
      ["cmi", "Case-mix index", num(cmi.value, 4)]
    ];
    if (s.compare) cards.push(["cmi-to", "CMI under " + s.compare.to, num(s.compare.cmi_to, 4)]);
    if (s.compare) cards.push(["changed", "DRG changes", num(s.compare.changed)]);
    cards.forEach(function (c) {
      var card = el("div", "cm-card"); card.setAttribute("data-key", c[0]);
      card.appendChild(el("div", "cm-card-label", c[1]));
      card.appendChild(el("div", "cm-card-value", c[2]));
      box.appendChild(card);
    });
    parent.appendChild(box);
    var w = "Weights: Table 5 " + (cmi.weights === "each version's fiscal year"
      ? "of each claim's version's fiscal year (" + cmi.fiscal_years.map(function (y) { return "FY" + y; }).join(", ") + ")"
      : cmi.weights) + "; " + num(cmi.weighted_claims) + " claims weighted, " + num(cmi.claims_without_weight) + " without a weight.";
    parent.appendChild(el("p", "cm-note", w));
  }

  function draw(s, parent) {
    while (parent.firstChild) parent.removeChild(parent.firstChild);
    headline(parent, s);
    if (s.empty) {
      parent.appendChild(el("p", "cm-empty", "The file holds no claims: there is nothing to summarise."));
      return;
    }
    // DRG distribution
    var drgs = s.drg_detail.slice(0, TOP_DRGS);
    var sec = section(parent, "drgs", "DRG distribution (top " + drgs.length + " of " + s.drg_detail.length + ")",
                      "Claims by final DRG; the bar's label gives the DRG's Table 5 weight.");
    var rev = drgs.slice().reverse();
    chart(sec, "drgs", [{type: "bar", orientation: "h", x: rev.map(function (r) { return r.claims; }),
      y: rev.map(function (r) { return "DRG " + r.drg; }), marker: {color: COLORS.main},
      text: rev.map(function (r) { return r.weight === null ? "" : "w " + r.weight.toFixed(4); }), textposition: "auto",
      hovertext: rev.map(function (r) { return r.description; })}],
      {height: Math.max(260, 22 * drgs.length + 60), margin: {l: 80, r: 20, t: 10, b: 40}});
    sec.appendChild(table(["DRG", "Description", "MDC", "Type", "Claims", "Share", "Weight", "Weight total"],
      drgs.map(function (r) { return [r.drg, r.description, r.mdc || "—", r.med_surg, num(r.claims), pct(r.claims, s.grouped),
                                      num(r.weight, 4), num(r.weight_total, 4)]; }),
      [0, 0, 0, 0, 1, 1, 1, 1]));
    // MDC mix
    sec = section(parent, "mdcs", "MDC mix");
    chart(sec, "mdcs", [{type: "bar", x: s.mdc_detail.map(function (r) { return "MDC " + r.mdc; }),
      y: s.mdc_detail.map(function (r) { return r.claims; }), marker: {color: COLORS.main},
      hovertext: s.mdc_detail.map(function (r) { return r.description; })}], {margin: {l: 60, r: 20, t: 10, b: 70}});
    sec.appendChild(table(["MDC", "Description", "Claims", "Share"],
      s.mdc_detail.map(function (r) { return [r.mdc, r.description, num(r.claims), pct(r.claims, s.grouped)]; }), [0, 0, 1, 1]));
    // CC/MCC capture
    sec = section(parent, "capture", "CC/MCC capture",
                  "Final severity of the grouped claims; capture rate (MCC or CC): " +
                  (s.cc_mcc_capture === null ? "—" : (100 * s.cc_mcc_capture).toFixed(1) + "%") + ".");
    var sev = [["MCC", s.severity.MCC, COLORS.mcc], ["CC", s.severity.CC, COLORS.cc], ["none", s.severity.none, COLORS.none],
               ["not applicable (DRG 998/999)", s.severity.not_applicable, "#d8dde0"]];
    chart(sec, "capture", [{type: "bar", x: sev.map(function (r) { return r[0]; }), y: sev.map(function (r) { return r[1]; }),
      marker: {color: sev.map(function (r) { return r[2]; })}}]);
    var ms = s.med_surg;
    sec.appendChild(table(["Final severity", "Claims", "Share"],
      sev.map(function (r) { return [r[0], num(r[1]), pct(r[1], s.grouped)]; }), [0, 1, 1]));
    sec.appendChild(table(["Medical", "Surgical", "Other", "HAC claims"],
      [[num(ms.MEDICAL), num(ms.SURGICAL), num(ms.NONE), num(s.hac.claims)]], [1, 1, 1, 1]));
    // CMI side by side
    sec = section(parent, "cmi", "Case-mix index");
    var bars = [["CMI", s.case_mix_index.value, COLORS.main]];
    if (s.transfers && s.transfers.adjusted_cmi !== null) bars.push(["transfer-adjusted", s.transfers.adjusted_cmi, "#5b8fb1"]);
    if (s.compare) {
      bars.push(["from (" + s.compare.weights + ")", s.compare.cmi_from, COLORS.main]);
      bars.push(["under " + s.compare.to + " (" + s.compare.weights + ")", s.compare.cmi_to, COLORS.alt]);
    }
    chart(sec, "cmi", [{type: "bar", x: bars.map(function (b) { return b[0]; }), y: bars.map(function (b) { return b[1]; }),
      marker: {color: bars.map(function (b) { return b[2]; })}, text: bars.map(function (b) { return num(b[1], 4); }),
      textposition: "auto"}]);
    sec.appendChild(table(["Measure", "Value"], bars.map(function (b) { return [b[0], num(b[1], 4)]; }), [0, 1]));
    var tr = s.transfers;
    sec.appendChild(table(["Claims with LOS", "Acute transfers", "Post-acute transfers", "Transfers without LOS"],
      [[num(tr.claims_with_los), num(tr.acute), num(tr.post_acute), num(tr.without_los)]], [1, 1, 1, 1]));
    // shifts
    if (s.compare) {
      var c = s.compare, shifts = c.shifts.slice(0, TOP_SHIFTS);
      sec = section(parent, "shifts", "Top DRG shifts under " + c.to,
                    num(c.changed) + " of " + num(c.claims) + " claims change DRG; sorted by total weight moved (Table 5 " +
                    (c.weights || "none") + " on both sides). " + num(c.refused_by_target) + " claims the target version refuses.");
      var rs = shifts.slice().reverse();
      chart(sec, "shifts", [{type: "bar", orientation: "h", x: rs.map(function (r) { return r.weight_moved; }),
        y: rs.map(function (r) { return r.from + " → " + r.to; }),
        marker: {color: rs.map(function (r) { return (r.weight_moved || 0) < 0 ? COLORS.mcc : COLORS.main; })},
        text: rs.map(function (r) { return r.claims + " claims"; }), textposition: "auto"}],
        {height: Math.max(260, 22 * shifts.length + 60), margin: {l: 100, r: 20, t: 10, b: 40}});
      sec.appendChild(table(["From", "To", "Claims", "Weight change", "Weight moved", "From title", "To title"],
        shifts.map(function (r) { return [r.from, r.to, num(r.claims), num(r.weight_change, 4), num(r.weight_moved, 4),
                                          r.from_description || "", r.to_description || ""]; }), [0, 0, 1, 1, 1, 0, 0]));
      sec.appendChild(el("h3", "", "Codes whose attributes change behind the shifts"));
      sec.appendChild(table(["Code", "Kind", "Claims"],
        c.changed_codes.map(function (r) { return [r.code, r.kind, num(r.claims)]; }), [0, 0, 1]));
      sec.appendChild(el("h3", "", "Codes " + c.to + " does not know (" + num(c.unknown_codes.claims) + " claims; grouped as given)"));
      sec.appendChild(table(["Code", "Kind", "Claims"],
        c.unknown_codes.codes.map(function (r) { return [r.code, r.kind, num(r.claims)]; }), [0, 0, 1]));
    }
    // refused, edits
    sec = section(parent, "refused", "Refused claims by reason");
    sec.appendChild(table(["Reason", "Claims"], Object.keys(s.refused.by_reason).map(function (k) {
      return [k, num(s.refused.by_reason[k])]; }), [0, 1]));
    if (s.edits) {
      sec = section(parent, "edits", "Code-editor edits", num(s.edits.claims_with_edits) + " claims with an edit.");
      sec.appendChild(table(["Edit", "Times"], Object.keys(s.edits.by_name).map(function (k) {
        return [k, num(s.edits.by_name[k])]; }), [0, 1]));
    }
  }

  root.CaseMixCharts = {draw: draw};
})(typeof window !== "undefined" ? window : this);
