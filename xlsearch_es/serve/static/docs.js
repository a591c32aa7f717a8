// The API reference from the service's own OpenAPI document: no assets from elsewhere.
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const ref = (schema, spec) => (schema && schema.$ref ? spec.components.schemas[schema.$ref.split("/").pop()] : schema) || {};
function fields(schema, spec) {
  const s = ref(schema, spec);
  return Object.entries(s.properties || {}).map(([name, p]) => {
    const t = ref(p, spec);
    const type = t.type || (t.anyOf || []).map((a) => a.type || "object").join(" | ") || (t.enum ? "enum" : "object");
    return `<li><code>${esc(name)}</code> ${esc(type)}${(s.required || []).includes(name) ? " (required)" : ""}` +
      `${t.default !== undefined ? ` default <code>${esc(JSON.stringify(t.default))}</code>` : ""}</li>`;
  }).join("");
}
async function load() {
  const resp = await fetch("/openapi.json");
  const api = document.getElementById("api");
  if (!resp.ok) { api.innerHTML = `<p class="error">${resp.status === 401 ? "Sign in on the search page first." : "Cannot load /openapi.json"}</p>`; return; }
  const spec = await resp.json();
  api.innerHTML = `<h1>${esc(spec.info.title)} ${esc(spec.info.version)}</h1><p>${esc(spec.info.description)}</p>` +
    Object.entries(spec.paths).map(([path, ops]) => Object.entries(ops).map(([method, op]) => {
      const params = (op.parameters || []).map((p) => `<li><code>${esc(p.name)}</code> in ${esc(p.in)}${p.required ? " (required)" : ""}</li>`).join("");
      const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      return `<div class="hit"><div><div class="title">${esc(method.toUpperCase())} ${esc(path)}</div>` +
        `<div class="meta">${esc(op.summary || "")} ${esc(op.description || "")}</div>` +
        (params ? `<ul>${params}</ul>` : "") + (body ? `<div class="meta">JSON body:</div><ul>${fields(body.schema, spec)}</ul>` : "") +
        `</div></div>`;
    }).join("")).join("");
}
load();
