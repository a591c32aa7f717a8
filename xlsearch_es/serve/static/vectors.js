// A PCA projection of a sample of product vectors, coloured by the product's language;
// the query's point with lines to its nearest products shows the cross-lingual alignment.
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

async function draw(query) {
  const url = new URLSearchParams({ sample: "400" });
  if (query) url.set("query", query);
  const resp = await fetch("/v1/vectors?" + url);
  if (resp.status === 401) { document.getElementById("signin").hidden = false; return; }
  const d = await resp.json();
  const svg = document.getElementById("plot");
  if (!resp.ok) { svg.innerHTML = `<text x="20" y="40">${esc(d.error)}</text>`; return; }
  const pts = d.points.concat(d.query ? [d.query] : []);
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x) => 30 + (x - x0) / ((x1 - x0) || 1) * 840, sy = (y) => 610 - (y - y0) / ((y1 - y0) || 1) * 580;
  const langs = [...new Set(d.points.map((p) => p.lang))].sort();
  const color = (l) => COLORS[langs.indexOf(l) % COLORS.length];
  const byId = Object.fromEntries(d.points.map((p) => [p.id, p]));
  let out = "";
  if (d.query) {
    for (const id of d.query.nearest) {
      const p = byId[id];
      out += `<line x1="${sx(d.query.x)}" y1="${sy(d.query.y)}" x2="${sx(p.x)}" y2="${sy(p.y)}" stroke="#333" stroke-width="1.5" class="nearest"/>`;
    }
  }
  out += d.points.map((p) => `<circle class="product" cx="${sx(p.x)}" cy="${sy(p.y)}" r="4" fill="${color(p.lang)}"><title>${esc(p.title)} [${esc(p.lang)}]</title></circle>`).join("");
  if (d.query) out += `<circle id="query-point" cx="${sx(d.query.x)}" cy="${sy(d.query.y)}" r="8" fill="#000"><title>${esc(d.query.text)}</title></circle>` +
    `<text x="${sx(d.query.x) + 10}" y="${sy(d.query.y) - 10}" font-weight="700">${esc(d.query.text)} [${esc(d.query.lang)}]</text>`;
  svg.innerHTML = out;
  document.getElementById("legend").innerHTML = `<p>${d.points.length} products of <b>${esc(d.index)}</b> (${esc(d.field)}), PCA</p>` +
    langs.map((l) => `<div><span class="lang c${langs.indexOf(l) % COLORS.length}">${esc(l)}</span></div>`).join("");
}

document.getElementById("vec-form").addEventListener("submit", (e) => { e.preventDefault(); draw(document.getElementById("q").value.trim()); });
draw(new URLSearchParams(location.search).get("q") || "");
