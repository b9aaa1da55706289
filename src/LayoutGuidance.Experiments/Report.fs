/// index.html: one static page with the gallery, the plots and a sortable metrics table. It needs no
/// server: the table data is embedded and the script is plain JavaScript.
[<RequireQualifiedAccess>]
module LayoutGuidance.Experiments.Report

open System
open System.IO
open System.Net
open System.Text
open System.Text.Json

let private script =
    """
const data = JSON.parse(document.getElementById('metrics-data').textContent);
const table = document.getElementById('metrics');
const imageColumn = data.columns.indexOf('image');
let sort = { column: null, descending: false };

function compareValues(a, b) {
  const x = a === '' ? NaN : Number(a), y = b === '' ? NaN : Number(b);
  if (!isNaN(x) && !isNaN(y)) return x - y;
  if (isNaN(x) !== isNaN(y)) return isNaN(x) ? 1 : -1;
  return String(a).localeCompare(String(b));
}

function readHash() {
  const m = /(?:^|&)sort=(-?)([^&]+)/.exec(decodeURIComponent(location.hash.slice(1)));
  sort = m ? { column: m[2], descending: m[1] === '-' } : { column: null, descending: false };
}

function render() {
  const rows = data.rows.slice();
  const index = data.columns.indexOf(sort.column);
  if (index >= 0) rows.sort((a, b) => compareValues(a[index], b[index]) * (sort.descending ? -1 : 1));
  const head = document.createElement('tr');
  head.appendChild(document.createElement('th')).textContent = 'image';
  for (const c of data.columns) {
    const th = head.appendChild(document.createElement('th'));
    th.textContent = c + (c === sort.column ? (sort.descending ? ' \u25bc' : ' \u25b2') : '');
    th.dataset.column = c;
    th.addEventListener('click', () => {
      const descending = sort.column === c && !sort.descending;
      location.hash = 'sort=' + (descending ? '-' : '') + encodeURIComponent(c);
    });
  }
  table.tHead.replaceChildren(head);
  const body = document.createElement('tbody');
  for (const r of rows) {
    const tr = body.appendChild(document.createElement('tr'));
    const img = tr.appendChild(document.createElement('td')).appendChild(document.createElement('img'));
    img.src = r[imageColumn];
    img.className = 'thumb';
    img.alt = r[0];
    for (const v of r) tr.appendChild(document.createElement('td')).textContent = v;
  }
  table.tBodies[0].replaceWith(body);
}

window.addEventListener('hashchange', () => { readHash(); render(); });
readHash();
render();

// Broken images usually mean index.html was copied without its folders: say so on the page.
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  const failed = images.filter(i => !(i.complete && i.naturalWidth > 0));
  const status = document.getElementById('image-status');
  status.dataset.loaded = images.length - failed.length;
  status.dataset.failed = failed.length;
  status.className = failed.length ? 'bad' : 'ok';
  status.textContent = failed.length === 0
    ? `All ${images.length} images loaded.`
    : `${failed.length} of ${images.length} images failed to load (${failed.slice(0, 5).map(i => i.getAttribute('src')).join(', ')}). Keep index.html next to its gallery.png, plots/ and images/.`;
});
"""

let private style =
    """
body { font-family: 'DejaVu Sans', Arial, sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; }
.summary { color: #555; }
.ok { color: #2a7a2a; } .bad { color: #b00; font-weight: bold; }
img.gallery { max-width: 100%; border: 1px solid #ddd; }
figure { display: inline-block; margin: 0 1em 1em 0; }
figure img { width: 480px; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; }
th { cursor: pointer; background: #f0f0f0; position: sticky; top: 0; white-space: nowrap; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; }
td { max-width: 24em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
img.thumb { height: 48px; }
"""

/// Writes `folder/index.html` for `table`; `plots` are (title, relative path) pairs.
let write (folder: string) (title: string) (summary: string) (plots: (string * string) list) (table: MetricsTable) =
    let enc (s: string) = WebUtility.HtmlEncode s
    let columns = table.Columns |> List.filter ((<>) Columns.checksum)
    let data =
        JsonSerializer.Serialize(
            {| columns = columns
               rows = table.Rows |> List.map (fun r -> columns |> List.map (fun c -> r.TryFind c |> Option.defaultValue "")) |}
        )
    let html = StringBuilder()
    let add (s: string) = html.Append(s).Append('\n') |> ignore
    add "<!doctype html>"
    add "<html lang=\"en\"><head><meta charset=\"utf-8\">"
    add $"<title>{enc title}: layout guidance results</title>"
    add $"<style>{style}</style></head><body>"
    add $"<h1>{enc title}</h1>"
    add $"<p class=\"summary\">{enc summary}</p>"
    add "<p id=\"image-status\">Loading images…</p>"
    add "<h2>Gallery</h2>"
    add "<img class=\"gallery\" src=\"gallery.png\" alt=\"gallery\">"
    if not plots.IsEmpty then
        add "<h2>Plots</h2>"
        for t, p in plots do
            let src = p.Replace('\\', '/')
            add $"<figure><img src=\"{enc src}\" alt=\"{enc t}\"><figcaption>{enc t}</figcaption></figure>"
    add $"<h2>Metrics</h2><p>{table.Rows.Length} images. Click a column to sort (again to reverse); the order is kept in the address, e.g. <code>index.html#sort=-eta</code>. The same data is in <a href=\"metrics.csv\">metrics.csv</a>.</p>"
    add "<table id=\"metrics\"><thead></thead><tbody></tbody></table>"
    // The default encoder escapes <, > and &, so the data cannot close its script element.
    add $"<script type=\"application/json\" id=\"metrics-data\">{data}</script>"
    add $"<script>{script}</script>"
    add "</body></html>"
    let path = Path.Combine(folder, "index.html")
    File.WriteAllText(path + ".tmp", html.ToString())
    File.Move(path + ".tmp", path, true)
    path
