/** The HTML report's inline style and script: system fonts only, no external asset, works offline. */

export const REPORT_CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main{max-width:1240px;margin:0 auto;padding:20px 24px 40px}
header{display:flex;flex-wrap:wrap;align-items:center;gap:8px 20px;margin-bottom:14px}
h1{font-size:20px;margin:0;flex-basis:100%}
h2{font-size:15px;margin:0 0 8px;display:flex;gap:10px;align-items:baseline}
.meta{color:#656d76;font-size:12px;font-weight:400}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 16px;margin-bottom:16px}
.verdict{padding:4px 12px;border-radius:6px;font-weight:700;font-size:15px}
.verdict.fail{color:#fff;background:#cf222e}.verdict.warn{color:#1f2328;background:#ffd33d}.verdict.pass{color:#fff;background:#1a7f37}
.counts{display:flex;gap:14px}
.badge{display:inline-block;min-width:44px;text-align:center;padding:1px 7px;border-radius:999px;font-weight:600;font-size:11px;text-transform:uppercase}
.badge.pass{color:#1a7f37;background:#dafbe1}.badge.warn{color:#7d4e00;background:#fff8c5}.badge.fail{color:#fff;background:#cf222e}.badge.skip{color:#57606a;background:#eaeef2}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #eaeef2;padding:6px 8px;text-align:left;vertical-align:top}
thead th{font-size:12px;color:#656d76;font-weight:600;background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
#problems{border-color:#ff8182;border-left:4px solid #cf222e}
#problems.clean{border-color:#d0d7de;border-left-color:#1a7f37}
#problems tr.fail td{background:#fff5f5}
.keys{display:flex;flex-wrap:wrap;gap:4px;margin-top:4px}
.keys code{background:#f6f8fa;border:1px solid #d0d7de;border-radius:4px;padding:0 5px;font-size:12px}
.keys .what{color:#656d76;font-size:12px;margin-right:2px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
details.sql summary{cursor:pointer;color:#0969da;font-size:12px}
details.sql pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:8px;margin:6px 0 0;font-size:12px;max-width:720px}
.failures{display:flex;gap:24px;align-items:center;margin-bottom:10px}
.key{display:inline-block;width:9px;height:9px;border-radius:2px;margin:0 3px 0 6px}.key.fail{background:#cf222e}.key.warn{background:#bf8700}
table.trends td.spark{white-space:nowrap}
table.trends svg{vertical-align:middle}
.last{display:inline-block;min-width:52px;margin-left:6px;font-variant-numeric:tabular-nums;font-size:12px;color:#424a53}
svg .nodata{font-size:10px;fill:#8c959f} svg .count{font-size:10px;fill:#424a53}
.filter{display:flex;gap:12px;align-items:center;margin-bottom:8px;font-size:13px}
.filter select{font:inherit;padding:2px 6px;border:1px solid #d0d7de;border-radius:6px;background:#fff}
[hidden]{display:none!important}
`;

/** The status and table filters: they show or hide every row with data-status and data-table (all checks, the history's tables). */
export const REPORT_SCRIPT = `
(function () {
  var status = document.getElementById('filter-status');
  var table = document.getElementById('filter-table');
  var shown = document.getElementById('filter-shown');
  function apply() {
    var s = status.value, t = table.value, n = 0, all = 0;
    document.querySelectorAll('[data-status][data-table]').forEach(function (el) {
      var okStatus = s === 'all' || (s === 'problems' ? el.dataset.status === 'fail' || el.dataset.status === 'warn' : el.dataset.status === s);
      var ok = okStatus && (t === 'all' || el.dataset.table === t);
      el.hidden = !ok;
      if (el.closest('#checks')) { all += 1; if (ok) n += 1; }
    });
    shown.textContent = n + ' of ' + all + ' checks shown';
  }
  status.addEventListener('change', apply);
  table.addEventListener('change', apply);
  apply();
})();
`;
