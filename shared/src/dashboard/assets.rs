//! The page's only script and style, inline and allowed by hash in the
//! [`content_security_policy`](super::content_security_policy).

pub(super) const STYLE: &str = r#"
:root{color-scheme:light dark;--bg:#f6f7f9;--fg:#1d2330;--muted:#667085;--card:#fff;--line:#d9dde4;--ok:#2e9d57;--warn:#d99a1e;--bad:#d1453b;--none:#c5cad3;--accent:#3b6fd8}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--fg:#e6e8ec;--muted:#98a2b3;--card:#1d2128;--line:#30353f;--none:#3a404b;--accent:#7ea6f5}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header.top{display:flex;flex-wrap:wrap;align-items:baseline;gap:.5rem 1.5rem;padding:1rem 1.5rem;border-bottom:1px solid var(--line)}
header.top h1{font-size:1.25rem;margin:0}
main{padding:1rem 1.5rem;display:grid;gap:1.5rem}
h2{font-size:1rem;margin:0 0 .5rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
h3{font-size:1rem;margin:0}
small,.muted{color:var(--muted)}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(340px,1fr))}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.9rem 1rem}
.card header{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin-bottom:.5rem}
.badge{display:inline-block;padding:0 .45rem;border-radius:999px;border:1px solid var(--line);font-size:12px}
.badge.up{border-color:var(--ok);color:var(--ok)}
.badge.down{border-color:var(--bad);color:var(--bad)}
.badge.routed{background:var(--accent);border-color:var(--accent);color:#fff}
.total{font-size:1.6rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{padding:.15rem .3rem;text-align:left;font-weight:normal;border-bottom:1px solid var(--line)}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pos{color:var(--ok)}.neg{color:var(--bad)}
svg{display:block;max-width:100%}
svg .ok{fill:var(--ok)}svg .warn{fill:var(--warn)}svg .bad{fill:var(--bad)}svg .none{fill:var(--none)}svg .track{fill:var(--line)}
svg .target{stroke:var(--fg);stroke-dasharray:3 2}svg text{fill:var(--muted);font-size:10px}
figure{margin:.5rem 0}figcaption{font-size:12px;color:var(--muted)}
.quota{display:flex;gap:.5rem;align-items:center;font-size:12px}
ul.list{list-style:none;margin:0;padding:0}
ul.list li{padding:.35rem 0;border-bottom:1px solid var(--line)}
.alert.critical{color:var(--bad)}.alert.warning{color:var(--warn)}
.conn{margin-left:auto;font-size:12px}.conn.lost{color:var(--bad)}
.badge.degraded,.badge.unknown{border-color:var(--warn);color:var(--warn)}
.badge.ok{border-color:var(--ok);color:var(--ok)}
table.lines td,table.lines th{white-space:nowrap}
table.lines td.why{white-space:normal}
thead th{color:var(--muted);font-size:12px}
section.part{margin-top:.6rem}
.card.detail{max-width:760px}
nav.pages{display:flex;gap:1rem;margin:.6rem 0}
.counts span{margin-right:.8rem}
.badge.throttled,.badge.bad-data{border-color:var(--warn);color:var(--warn)}
svg .band{fill:none;stroke:var(--line)}svg .gridline{stroke:var(--line);stroke-dasharray:2 3}
svg polyline.series{fill:none;stroke-width:1.6}svg .switch{stroke:var(--fg);stroke-width:1.2;stroke-dasharray:4 2}
svg .incident{fill:var(--bad);opacity:.13}svg .incident.throttled,svg .incident.bad-data{fill:var(--warn)}
svg .p0{stroke:#3b6fd8;fill:#3b6fd8}svg .p1{stroke:#2e9d57;fill:#2e9d57}svg .p2{stroke:#d99a1e;fill:#d99a1e}
svg .p3{stroke:#a34fd1;fill:#a34fd1}svg .p4{stroke:#1fa3a3;fill:#1fa3a3}svg .p5{stroke:#c2577a;fill:#c2577a}
svg polyline.p0,svg polyline.p1,svg polyline.p2,svg polyline.p3,svg polyline.p4,svg polyline.p5{fill:none}
svg .incident.p0,svg .incident.p1,svg .incident.p2,svg .incident.p3,svg .incident.p4,svg .incident.p5{stroke:none}
.key{font-size:12px;margin-right:.6rem}.key.p0{color:#3b6fd8}.key.p1{color:#2e9d57}.key.p2{color:#d99a1e}.key.p3{color:#a34fd1}.key.p4{color:#1fa3a3}.key.p5{color:#c2577a}
ul.incidents li .cause{font-weight:600}
"#;

/// The refresh loop and the on-demand provider card.
///
/// Every 5 s (while the tab is visible) it fetches `dashboard.json` and
/// swaps in the changed fragments; when a fetch fails it marks the page
/// stale and backs off, and once the sentinel answers again (or the build
/// changed, or `fetch` is missing) it reloads the page. A provider's card
/// is loaded only when a person opens it (`#provider=ID` in the address:
/// the links of the summary set it), from `dashboard/providers/ID/card`,
/// and refreshed with the rest while it stays open.
pub(super) const SCRIPT: &str = r#"
(function () {
  'use strict';
  var base = 5000, delay = base, failures = 0;
  var root = document.documentElement;
  var conn = document.getElementById('conn');
  var panel = document.getElementById('detail-panel');
  var detail = document.getElementById('detail');
  function later() { setTimeout(refresh, delay); }
  function opened() {
    var m = /^#provider=([a-z0-9][a-z0-9._-]{0,63})$/.exec(location.hash);
    return m ? m[1] : null;
  }
  function show() {
    var id = opened();
    if (!id) { panel.hidden = true; detail.innerHTML = ''; return Promise.resolve(); }
    panel.hidden = false;
    return fetch('dashboard/providers/' + id + '/card', { cache: 'no-store', headers: { accept: 'text/html' } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (opened() === id && detail.innerHTML !== html) { detail.innerHTML = html; }
      });
  }
  function refresh() {
    if (document.hidden) { later(); return; }
    if (!window.fetch) { location.reload(); return; }
    fetch('dashboard.json', { cache: 'no-store', headers: { accept: 'application/json' } })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
      .then(function (d) {
        if (failures > 0 || !d.fragments || d.version !== root.getAttribute('data-version')) {
          location.reload();
          return false;
        }
        Object.keys(d.fragments).forEach(function (k) {
          var el = document.getElementById(k);
          if (el && el.innerHTML !== d.fragments[k]) { el.innerHTML = d.fragments[k]; }
        });
        return show().then(function () { return true; });
      })
      .then(function (ok) {
        if (!ok) { return; }
        conn.textContent = '';
        conn.className = 'conn';
        delay = base;
        later();
      })
      .catch(function () {
        failures += 1;
        conn.textContent = 'connection lost, retrying';
        conn.className = 'conn lost';
        delay = Math.min(60000, base * Math.pow(2, failures));
        later();
      });
  }
  if (window.fetch) {
    window.addEventListener('hashchange', function () { show().catch(function () {}); });
    show().catch(function () {});
  }
  later();
})();
"#;
