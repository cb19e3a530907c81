// The pair matrix's panel and, beyond 64 hosts, its canvas. Text is set with textContent
// only, so nothing from the lab is ever parsed as markup.
(() => {
  "use strict";
  const data = JSON.parse(document.getElementById("cnilab-data").textContent);
  const [FROM, TO, VERDICT, RTT, LOST, SENT, WIRE, REASONS, REMARKS, XFAIL, TRIMMED] =
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const LABEL = { pass: "pass", fail: "FAIL", xfail: "failed as the lab expects", retry: "passed on retry" };
  const panel = document.getElementById("detail");
  const str = (i) => (i === null ? "" : data.strings[i]);
  const host = (pod) => (data.host_of[pod] === null ? "?" : data.hosts[data.host_of[pod]]);
  let pinned = -1;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function list(title, items) {
    if (items.length === 0) return [];
    const ul = el("ul");
    for (const item of items) ul.append(item);
    return [el("h4", title), ul];
  }

  // The pcap files of the pair's pods and hosts, in the order a packet meets them.
  function pcaps(p) {
    const nodes = [data.pods[p[FROM]], host(p[FROM]), host(p[TO]), data.pods[p[TO]]];
    const out = [];
    for (const n of nodes.filter((n, i) => nodes.indexOf(n) === i)) {
      for (const c of data.captures.filter((c) => c.node === n)) {
        out.push(el("li", c.pcap ? `${c.pcap} (${c.frames} frames)` : `${c.point}: not kept`));
      }
    }
    if (data.lab_pcap) out.push(el("li", `${data.lab_pcap} (every point, in time order)`));
    if (!data.lab_pcap) out.push(el("li", "run verify with --pcap DIR to keep these as pcap files", "hint"));
    return out;
  }

  function show(i) {
    const p = data.pairs[i];
    const verdict = data.verdicts[p[VERDICT]];
    const same = data.host_of[p[FROM]] !== null && data.host_of[p[FROM]] === data.host_of[p[TO]];
    const h = el("h3", `${data.pods[p[FROM]]} → ${data.pods[p[TO]]}`);
    const badge = el("span", LABEL[verdict], "v");
    badge.dataset.verdict = verdict;
    h.append(badge);
    const where = `${host(p[FROM])} ${data.pod_ip[p[FROM]]} → ${host(p[TO])} ${data.pod_ip[p[TO]]}`;
    const dl = el("dl");
    const rtt = p[RTT] === null ? "-" : `${(p[RTT] / 1000).toFixed(2)} ms`;
    const loss = p[SENT] === 0 ? "-" : `${p[LOST]}/${p[SENT]} steady-state pings lost`;
    for (const [k, v] of [["wire", str(p[WIRE]) || "-"], ["RTT", rtt], ["loss", loss]]) {
      dl.append(el("dt", k), el("dd", v));
    }
    const reasons = [];
    for (let r = 0; r < p[REASONS].length; r += 2) {
      const li = el("li");
      li.append(el("span", str(p[REASONS][r]), "kind"), str(p[REASONS][r + 1]));
      reasons.push(li);
    }
    const remarks = p[REMARKS].map((r) => el("li", str(r)));
    if (p[XFAIL] !== null) remarks.unshift(el("li", `fails as the lab expects: ${str(p[XFAIL])}`));
    const trimmed = p[TRIMMED] ? [el("p", "This pair's text did not fit the page: `cnilab verify --json` has it.", "hint")] : [];
    panel.replaceChildren(h, el("p", where + (same ? " · same host" : ""), "where"), dl,
      ...trimmed, ...list("Reasons", reasons), ...list("Remarks", remarks), ...list("Captures to open", pcaps(p)));
  }

  function select(i) {
    pinned = i;
    for (const c of document.querySelectorAll("td.selected")) c.classList.remove("selected");
    const cell = document.querySelector(`td[data-i="${i}"]`);
    if (cell) cell.classList.add("selected");
    if (canvas) draw();
    show(i);
  }

  const table = document.getElementById("matrix");
  if (table) {
    table.addEventListener("mouseover", (e) => {
      const c = e.target.closest("td[data-i]");
      if (c) show(+c.dataset.i);
    });
    table.addEventListener("mouseleave", () => pinned >= 0 && show(pinned));
    table.addEventListener("click", (e) => {
      const c = e.target.closest("td[data-i]");
      if (c) select(+c.dataset.i);
    });
  }
  for (const a of document.querySelectorAll("a[data-i]")) {
    a.addEventListener("click", () => select(+a.dataset.i));
  }

  // Beyond 64 hosts: the cells on a canvas, labels on every few rows and columns.
  const canvas = document.getElementById("matrix-canvas");
  const n = data.pods.length;
  const cell = Math.max(2, Math.min(16, Math.floor(1000 / Math.max(n, 1))));
  const margin = 70;
  const at = new Int32Array(n * n).fill(-1);
  data.pairs.forEach((p, i) => { at[p[FROM] * n + p[TO]] = i; });

  function draw() {
    const css = getComputedStyle(document.documentElement);
    const colour = data.verdicts.map((v) => css.getPropertyValue(`--${v}`).trim());
    const size = margin + n * cell;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = size * ratio;
    canvas.height = size * ratio;
    canvas.style.width = canvas.style.height = `${size}px`;
    const ctx = canvas.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.fillStyle = "#eef1f4";
    ctx.fillRect(margin, margin, n * cell, n * cell);
    const gap = cell >= 5 ? 1 : 0;
    data.pairs.forEach((p) => {
      ctx.fillStyle = colour[p[VERDICT]];
      ctx.fillRect(margin + p[TO] * cell, margin + p[FROM] * cell, cell - gap, cell - gap);
      if (data.host_of[p[FROM]] !== null && data.host_of[p[FROM]] === data.host_of[p[TO]]) {
        ctx.fillStyle = "rgba(0,0,0,.35)";
        ctx.fillRect(margin + p[TO] * cell, margin + p[FROM] * cell, Math.ceil(cell / 2), Math.ceil(cell / 2));
      }
    });
    labels(ctx);
    if (pinned >= 0) {
      const p = data.pairs[pinned];
      ctx.strokeStyle = "#1f2328";
      ctx.lineWidth = 2;
      ctx.strokeRect(margin + p[TO] * cell - 1, margin + p[FROM] * cell - 1, cell + 1, cell + 1);
    }
  }

  function labels(ctx) {
    const every = Math.ceil(12 / cell);
    ctx.fillStyle = "#59636e";
    ctx.font = "10px sans-serif";
    ctx.textBaseline = "middle";
    for (let i = 0; i < n; i += every) {
      ctx.textAlign = "right";
      ctx.fillText(data.pods[i], margin - 4, margin + i * cell + cell / 2);
      ctx.save();
      ctx.translate(margin + i * cell + cell / 2, margin - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left";
      ctx.fillText(data.pods[i], 0, 0);
      ctx.restore();
    }
  }

  function pairAt(e) {
    const box = canvas.getBoundingClientRect();
    const col = Math.floor((e.clientX - box.left - margin) / cell);
    const row = Math.floor((e.clientY - box.top - margin) / cell);
    return row < 0 || col < 0 || row >= n || col >= n ? -1 : at[row * n + col];
  }

  if (canvas) {
    draw();
    canvas.addEventListener("mousemove", (e) => {
      const i = pairAt(e);
      if (i >= 0) show(i);
    });
    canvas.addEventListener("mouseleave", () => pinned >= 0 && show(pinned));
    canvas.addEventListener("click", (e) => {
      const i = pairAt(e);
      if (i >= 0) select(i);
    });
  }

  // A failing pair is in the panel from the start, so the page opens on what matters.
  const first = data.pairs.findIndex((p) => data.verdicts[p[VERDICT]] === "fail");
  if (first >= 0) select(first);
  // How long the page took to be ready, from the start of loading: tests read it.
  document.documentElement.dataset.readyMs = String(Math.round(performance.now()));
})();
