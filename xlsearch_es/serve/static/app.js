// The search page: one call to POST /v1/search per query, facet or page change.
const state = { query: "", page: 1, filters: {}, all: false, searchId: null };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
// Highlights come from Elasticsearch with <em> tags around matched words; keep only those tags.
const safeHighlight = (s) => esc(s).replace(/&lt;em&gt;/g, "<em>").replace(/&lt;\/em&gt;/g, "</em>");

async function run() {
  if (!state.query) return;
  const body = { query: state.query, k: 10, page: state.page, explain: true, filters: state.filters, all: state.all };
  const resp = await fetch("/v1/search",
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  if (resp.status === 401) { $("login-form").hidden = false; $("key").focus(); return; }
  const data = await resp.json();
  if (!resp.ok) { $("hits").innerHTML = `<p class="error">${esc(data.error)}</p>`; return; }
  state.searchId = data.search_id || null; // set when the service records searches
  render(data);
}

// Key mode: the key is sent once; the service answers with an HttpOnly, SameSite=Strict cookie.
$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const resp = await fetch("/login", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ key: $("key").value }) });
  if (!resp.ok) { $("login-error").textContent = "wrong key"; return; }
  $("key").value = ""; $("login-error").textContent = ""; $("login-form").hidden = true; run();
});

function render(d) {
  const tr = Object.entries(d.translations || {}).map(([l, t]) => `<span class="lang">${esc(l)}</span> ${esc(t)}`).join(" · ");
  const about = (d.notes || []).find((n) => n.startsWith("about: "));
  const below = (d.notes || []).find((n) => n.includes("below the relevance floor"));
  $("understood").innerHTML = `Detected <span class="lang" id="detected">${esc(d.lang)}</span> · <span id="total">${d.total}</span> results` +
    (about ? ` · ${esc(about)}` : "") + ` · ${d.took_ms} ms` +
    (below || state.all ? ` · <a id="all-toggle">${state.all ? "only the matches" : "show related products too"}</a>` : "") +
    (tr ? `<br>Translations: ${tr}` : "");
  $("hits").innerHTML = d.hits.map((h) => {
    const ranks = (h.components && h.components.ranks) || {};
    const why = Object.entries(ranks).map(([k, r]) => `${esc(k)} #${r}`).join(", ");
    const title = h.localized_title && h.localized_title !== h.title ? `${esc(h.localized_title)} <span class="meta">(${esc(h.title)})</span>` : esc(h.title);
    const price = h.price != null ? `${h.price} ${esc(h.currency || "")}` : "";
    return `<div class="hit" data-id="${esc(h.id)}">` +
      (h.image_url ? `<img src="${esc(h.image_url)}" alt="">` : "") +
      `<div><div class="title">${title}</div>` +
      `<div class="meta">${esc(h.brand || "")} · ${price} · written in <span class="lang">${esc(h.source_language)}</span></div>` +
      (h.highlight ? `<div class="meta">${safeHighlight(h.highlight)}</div>` : "") +
      `<div class="why">why: ${why} · fused score ${h.score}</div></div></div>`;
  }).join("") || "<p>No products found.</p>";
  // A bucket's value is what the filter takes (a category key joins every catalog language);
  // its label is the value in the shopper's language.
  const labels = d.facet_labels || {};
  $("facets").innerHTML = Object.entries(d.facets || {}).map(([name, values]) =>
    `<div class="facet"><h3>${esc(name)}</h3>` + Object.entries(values).map(([v, n]) =>
      `<a data-facet="${esc(name)}" data-value="${esc(v)}" class="${state.filters[name] === v ? "on" : ""}">${esc((labels[name] || {})[v] || v)} (${n})</a>`).join("") + "</div>").join("");
  const pages = Math.min(10, Math.ceil(d.total / d.size));
  $("pages").innerHTML = Array.from({ length: pages }, (_, i) =>
    `<button data-page="${i + 1}" class="${i + 1 === d.page ? "current" : ""}">${i + 1}</button>`).join("");
}

$("search-form").addEventListener("submit", (e) => { e.preventDefault(); state.query = $("q").value.trim(); state.page = 1; state.filters = {}; syncUrl(); run(); });
$("facets").addEventListener("click", (e) => {
  const a = e.target.closest("a[data-facet]"); if (!a) return;
  const name = a.dataset.facet, value = a.dataset.value;
  if (state.filters[name] === value) delete state.filters[name]; else state.filters[name] = value;
  state.page = 1; run();
});
$("understood").addEventListener("click", (e) => { if (e.target.id === "all-toggle") { state.all = !state.all; state.page = 1; run(); } });
// A click on a product is a judgment: the service keeps it beside the search that showed it.
$("hits").addEventListener("click", async (e) => {
  const hit = e.target.closest(".hit[data-id]"); if (!hit || !state.searchId) return;
  const resp = await fetch("/v1/click", { method: "POST", keepalive: true, headers: { "content-type": "application/json" },
    body: JSON.stringify({ search_id: state.searchId, product_id: hit.dataset.id }) });
  if (resp.ok) { hit.classList.add("clicked"); hit.dataset.recorded = "1"; }
});
$("pages").addEventListener("click", (e) => { const b = e.target.closest("button[data-page]"); if (b) { state.page = +b.dataset.page; run(); } });
function syncUrl() { const p = new URLSearchParams(location.search); p.set("q", state.query); history.replaceState(null, "", "?" + p); }
const initial = new URLSearchParams(location.search).get("q");
if (initial) { $("q").value = initial; state.query = initial; run(); }
