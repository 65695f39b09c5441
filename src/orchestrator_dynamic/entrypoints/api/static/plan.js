// The plan view: draws the DAG the server laid out in layers (graph.json), and keeps it live by
// polling that endpoint (the workflow's query) until the workflow ends. Large layers collapse into
// a "+N more" node (press it to expand); zoom buttons scale the drawing.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLW = 210, ROWH = 48, BOXW = 170, BOXH = 36, PAD = 24;
  const COLLAPSE_OVER = 30, SHOW_WHEN_COLLAPSED = 20;
  const GLYPH = {
    PLANNED: "◇", PENDING: "○", RUNNING: "▶", COMPLETED: "✓", FAILED: "✗", COMPENSATING: "↺", COMPENSATED: "↺",
    AWAITING_APPROVAL: "⏸", VALIDATING: "…", REFUSED: "⊘", REJECTED: "⊘", CANCELLED: "■",
    OK: "✓", AT_RISK: "!", VIOLATED: "✗", NONE: "–",
  };
  const state = { polls: 0, data: null, scale: 1, expanded: new Set(), all: false, shape: "", els: new Map(), rows: "" };
  // What the page saw change, in order, for anyone checking the live view (tests, the curious).
  window.odTransitions = [];
  const seen = new Map();

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function short(text, n) { text = String(text || ""); return text.length > n ? text.slice(0, n - 1) + "…" : text; }
  function slaClass(used) { return used === null ? "" : used > 1 ? "over" : used >= 0.8 ? "warn" : ""; }

  // Which nodes are drawn, and where: layer -> column, index -> row; hidden ones map to "+more".
  function place(graph) {
    const pos = new Map(), more = [];
    let rows = 1;
    graph.layers.forEach(function (layer, col) {
      const collapsed = !state.all && !state.expanded.has(col) && layer.length > COLLAPSE_OVER;
      const shown = collapsed ? layer.slice(0, SHOW_WHEN_COLLAPSED) : layer;
      shown.forEach(function (id, row) { pos.set(id, { x: PAD + col * COLW, y: PAD + row * ROWH, id: id }); });
      if (collapsed) {
        const spot = { x: PAD + col * COLW, y: PAD + shown.length * ROWH, more: layer.length - shown.length, col: col };
        more.push(spot);
        layer.slice(SHOW_WHEN_COLLAPSED).forEach(function (id) { pos.set(id, spot); });
      }
      rows = Math.max(rows, shown.length + (collapsed ? 1 : 0));
    });
    return { pos: pos, more: more, width: PAD * 2 + graph.layers.length * COLW, height: PAD * 2 + rows * ROWH };
  }

  function edgePath(a, b) {
    const x1 = a.x + BOXW, y1 = a.y + BOXH / 2, x2 = b.x, y2 = b.y + BOXH / 2, mid = (x1 + x2) / 2;
    return "M" + x1 + "," + y1 + " C" + mid + "," + y1 + " " + mid + "," + y2 + " " + (x2 - 4) + "," + y2;
  }

  function draw() {
    const graph = state.data.graph, svg = document.getElementById("dag-svg");
    const layout = place(graph);
    svg.textContent = "";
    state.els.clear();
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "8", refY: "5", markerWidth: "5", markerHeight: "5", orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#57606a" }, marker);
    const crit = new Set(graph.critical_path), onPath = new Map();
    graph.critical_path.forEach(function (id, i) { if (i > 0) onPath.set(graph.critical_path[i - 1] + ">" + id, true); });
    const edges = el("g", { class: "edges" }, svg), drawn = new Set();
    graph.edges.forEach(function (e) {
      const a = layout.pos.get(e[0]), b = layout.pos.get(e[1]);
      if (!a || !b) return;
      const key = (a.id || "more" + a.col) + ">" + (b.id || "more" + b.col);
      if (drawn.has(key)) return;
      drawn.add(key);
      const isCrit = onPath.has(e[0] + ">" + e[1]);
      el("path", { class: "edge" + (isCrit ? " crit" : ""), d: edgePath(a, b), "marker-end": "url(#arrow)" }, edges);
    });
    Object.values(graph.nodes).forEach(function (n) {
      const a = layout.pos.get(n.ticket_id), b = n.compensation_ticket_id && layout.pos.get(n.compensation_ticket_id);
      if (a && b && a.id && b.id) {
        el("path", { class: "comp-link", d: "M" + (a.x + BOXW / 2) + "," + (a.y + BOXH) + " Q" + (a.x + BOXW / 2) + "," + (b.y + BOXH + 30) + " " + (b.x + BOXW / 2) + "," + (b.y + BOXH) }, edges);
      }
    });
    const nodes = el("g", { class: "nodes" }, svg);
    layout.pos.forEach(function (p, id) {
      if (!p.id) return;
      const n = graph.nodes[id];
      // A PLANNED node is a task with no ticket yet (awaiting approval): nothing to open.
      const href = n.status === "PLANNED" ? "#" : "/ui/tickets/" + encodeURIComponent(id);
      const link = el("a", { href: href, class: "node", "data-ticket": id, "data-task": n.task_id || "" }, nodes);
      const title = el("title", {}, link);
      el("rect", { class: "box", x: p.x, y: p.y, width: BOXW, height: BOXH, rx: 5 }, link);
      const label = el("text", { x: p.x + 6, y: p.y + 14 }, link);
      const sub = el("text", { class: "sub", x: p.x + 6, y: p.y + 27 }, link);
      el("rect", { class: "slabg", x: p.x + 6, y: p.y + BOXH - 6, width: BOXW - 12, height: 3 }, link);
      const bar = el("rect", { class: "sla", x: p.x + 6, y: p.y + BOXH - 6, width: 0, height: 3 }, link);
      state.els.set(id, { link: link, title: title, label: label, sub: sub, bar: bar, crit: crit.has(id) });
    });
    layout.more.forEach(function (m) {
      const g = el("a", { href: "#", class: "more", role: "button", "data-layer": m.col }, nodes);
      el("title", {}, g).textContent = "Show the " + m.more + " hidden tickets of this layer";
      el("rect", { x: m.x, y: m.y, width: BOXW, height: BOXH, rx: 5 }, g);
      el("text", { x: m.x + 10, y: m.y + 22 }, g).textContent = "+" + m.more + " more (expand)";
      g.addEventListener("click", function (ev) { ev.preventDefault(); state.expanded.add(m.col); draw(); });
    });
    svg.setAttribute("viewBox", "0 0 " + layout.width + " " + layout.height);
    svg.dataset.width = layout.width;
    svg.dataset.height = layout.height;
    zoom(1);
    update();
  }

  // Statuses, SLA bars and labels change in place: the drawing and the keyboard focus stay put.
  function update() {
    const graph = state.data.graph, crit = new Set(graph.critical_path);
    state.els.forEach(function (e, id) {
      const n = graph.nodes[id];
      const status = n.status || "PENDING";
      const used = n.sla_used;
      e.link.setAttribute("class", "node s-" + status.toLowerCase() + (crit.has(id) ? " crit" : ""));
      e.link.dataset.status = status;
      e.label.textContent = (GLYPH[status] || "•") + " " + short(n.task_id, 20) + (n.retry_count ? " ↻" + n.retry_count : "");
      e.sub.textContent = short(status + " · " + (n.task_type || "") + (n.worker_id ? " · " + n.worker_id : ""), 30);
      e.bar.setAttribute("width", used === null ? 0 : Math.min(used, 1) * (BOXW - 12));
      e.bar.setAttribute("class", "sla " + slaClass(used));
      const tip = [n.task_id + " (" + n.task_type + "): " + status];
      if (crit.has(id)) tip.push("on the critical path");
      if (used !== null) tip.push(Math.round(used * 100) + "% of the SLA window used");
      if (n.retry_count) tip.push(n.retry_count + " retries");
      if (n.compensates) tip.push("compensates " + n.compensates);
      if (n.error_message) tip.push(n.error_message);
      e.title.textContent = tip.join("; ");
      e.link.setAttribute("aria-label", tip.join("; "));
    });
    Object.values(graph.nodes).forEach(function (n) {
      if (seen.get(n.ticket_id) !== n.status) {
        seen.set(n.ticket_id, n.status);
        window.odTransitions.push({ ticket: n.ticket_id, status: n.status, poll: state.polls, at: Date.now() });
      }
    });
    rows();
    facts();
  }

  function rows() {
    const graph = state.data.graph, depth = new Map();
    graph.layers.forEach(function (layer, i) { layer.forEach(function (id) { depth.set(id, i); }); });
    const list = graph.layers.flat().map(function (id) { return graph.nodes[id]; });
    const signature = list.map(function (n) { return n.ticket_id + n.status + n.retry_count + (n.sla_used || 0).toFixed(2); }).join("|");
    if (signature === state.rows) return;
    state.rows = signature;
    const body = document.querySelector("#tickets tbody");
    const frag = document.createDocumentFragment();
    list.forEach(function (n) {
      const tr = document.createElement("tr");
      tr.dataset.ticket = n.ticket_id;
      const cells = [String(depth.get(n.ticket_id)), null, n.task_type, null, n.worker_id || "–", String(n.retry_count), null, null];
      cells.forEach(function (text, i) {
        const td = document.createElement("td");
        if (i === 1) {
          const a = document.createElement(n.status === "PLANNED" ? "span" : "a");
          if (n.status !== "PLANNED") a.href = "/ui/tickets/" + encodeURIComponent(n.ticket_id);
          a.textContent = n.task_id;
          td.appendChild(a);
          if (n.critical) td.appendChild(document.createTextNode(" (critical path)"));
        } else if (i === 3) {
          const b = document.createElement("span");
          b.className = "badge s-" + String(n.status).toLowerCase();
          b.textContent = (GLYPH[n.status] || "•") + " " + n.status;
          td.appendChild(b);
        } else if (i === 6) {
          td.textContent = n.sla_used === null ? "–" : Math.round(n.sla_used * 100) + "%";
        } else if (i === 7) {
          [[n.compensation_ticket_id, "compensated by"], [n.compensates, "compensates"]].forEach(function (pair) {
            if (!pair[0]) return;
            const a = document.createElement("a");
            a.href = "/ui/tickets/" + encodeURIComponent(pair[0]);
            a.textContent = pair[1] + " " + String(pair[0]).slice(0, 8);
            td.appendChild(a);
            td.appendChild(document.createTextNode(" "));
          });
        } else {
          td.textContent = text;
        }
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    body.textContent = "";
    body.appendChild(frag);
  }

  function badge(status) {
    const name = text(status);
    return '<span class="badge s-' + name.toLowerCase() + '">' + (GLYPH[status] || "•") + " " + name + "</span>";
  }
  function text(value) { const d = document.createElement("div"); d.textContent = String(value); return d.innerHTML; }

  function facts() {
    const v = state.data.view;
    document.getElementById("wf-status").innerHTML = badge(v.status);
    document.getElementById("wf-step").textContent = v.step;
    document.getElementById("wf-sla").innerHTML = badge(state.data.graph.sla_state);
    document.getElementById("wf-count").textContent = v.tickets.length;
    // a step retrying after a dependency outage says so ("waiting for bus since …")
    document.getElementById("wf-reason").textContent = (v.waiting && v.waiting.message) || v.reason || "";
    if (!state.data.finished) return;
    const out = document.getElementById("outcome");
    out.hidden = false;
    // Scalars only: the per-ticket figures are in the table below.
    const m = v.metrics || {};
    const keys = Object.keys(m).filter(function (k) { return !Array.isArray(m[k]); });
    document.getElementById("metrics").innerHTML = keys.length
      ? "<dl class=\"facts\">" + keys.map(function (k) {
          const val = typeof m[k] === "object" && m[k] !== null ? JSON.stringify(m[k]) : m[k];
          return "<dt>" + text(k.replace(/_/g, " ")) + "</dt><dd>" + text(val) + "</dd>";
        }).join("") + "</dl>"
      : "<p>No metrics recorded.</p>";
    const inc = v.incidents || [];
    document.getElementById("incidents").innerHTML = "<h3>Incidents</h3>" + (inc.length
      ? "<ul>" + inc.map(function (i) { return "<li><code>" + text(i.incident_id || "") + "</code> " + text(i.severity || "") + " " + text(i.summary || i.description || i.incident_type || ""); }).join("</li>") + "</li></ul>"
      : "<p>None.</p>");
  }

  function zoom(factor) {
    const svg = document.getElementById("dag-svg"), box = document.getElementById("dag");
    const w = Number(svg.dataset.width), h = Number(svg.dataset.height);
    if (factor === "fit") state.scale = Math.min(1, (box.clientWidth - 4) / w);
    else state.scale = Math.max(0.1, Math.min(3, state.scale * factor));
    svg.setAttribute("width", Math.round(w * state.scale));
    svg.setAttribute("height", Math.round(h * state.scale));
  }

  function shapeOf(data) {
    return data.graph.layers.map(function (l) { return l.join(","); }).join(";");
  }

  // How long drawing took (the console's benchmark reads it): a full draw or an in-place update.
  window.odTiming = { firstDrawnAt: null, draws: [], updates: [] };

  function accept(data) {
    const shape = shapeOf(data), started = performance.now();
    state.polls += 1;
    state.data = data;
    if (shape !== state.shape) {
      state.shape = shape;
      draw();
      window.odTiming.draws.push(performance.now() - started);
    } else {
      update();
      window.odTiming.updates.push(performance.now() - started);
    }
    if (window.odTiming.firstDrawnAt === null) window.odTiming.firstDrawnAt = performance.now();
    document.getElementById("dag").dataset.rendered = String(Date.now());
  }

  function poll() {
    const box = document.getElementById("dag");
    const url = "/ui/workflows/" + encodeURIComponent(box.dataset.workflow) + "/graph.json";
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data) accept(data);
        if (!data || !data.finished) setTimeout(poll, Number(box.dataset.poll));
      })
      .catch(function () { setTimeout(poll, Number(box.dataset.poll) * 3); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    accept(JSON.parse(document.getElementById("plan-data").textContent));
    document.querySelectorAll("[data-zoom]").forEach(function (b) {
      b.addEventListener("click", function () { const z = b.dataset.zoom; zoom(z === "fit" ? "fit" : Number(z)); });
    });
    const all = document.getElementById("expand-all");
    all.addEventListener("click", function () {
      state.all = !state.all;
      all.setAttribute("aria-pressed", String(state.all));
      all.textContent = state.all ? "Collapse large layers" : "Expand all layers";
      const started = performance.now();
      draw();
      window.odTiming.draws.push(performance.now() - started);
    });
    if (!state.data.finished) setTimeout(poll, Number(document.getElementById("dag").dataset.poll));
  });
})();
