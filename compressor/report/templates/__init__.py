"""The report page's stylesheet, kept as a Python string so it ships inside the package without package-data."""

STYLE = """
:root { --pass: #1a7f37; --fail: #cf222e; --near: #bf8700; --ink: #1f2328; --muted: #59636e; --line: #d0d7de;
        --measured: #1a7f37; --estimated: #9a6700; --counted: #0969da; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); background: #f6f8fa; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 24px 40px; background: #fff; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 17px; margin: 28px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 0 0 6px; }
.sub, .note, footer, .src { color: var(--muted); }
.note { margin: 0 0 8px; font-size: 13px; }
img { max-width: 100%; height: auto; display: block; margin: 8px 0; }
.banner.warn { background: #fff8c5; border: 1px solid #d4a72c; padding: 8px 12px; border-radius: 6px; margin: 10px 0; }
.verdict { display: flex; align-items: center; gap: 16px; padding: 14px 18px; border-radius: 8px; margin: 12px 0;
           color: #fff; }
.verdict .word { font-size: 28px; font-weight: 700; letter-spacing: 1px; }
.verdict .why { font-size: 15px; }
.verdict.pass { background: var(--pass); }
.verdict.fail { background: var(--fail); }
.verdict.none { background: #6e7781; }
.gauge { display: grid; grid-template-columns: 220px 1fr; grid-template-rows: auto auto; column-gap: 14px;
         padding: 6px 8px; border-radius: 6px; margin: 4px 0; }
.gauge.fail { background: #ffebe9; outline: 2px solid var(--fail); }
.gauge.warn { background: #fff8c5; outline: 2px solid var(--near); }
.gauge .label { grid-row: span 2; align-self: center; }
.gauge .bar { position: relative; height: 14px; background: #eaeef2; border-radius: 7px; overflow: hidden; }
.gauge .fill { height: 100%; border-radius: 7px; background: var(--pass); }
.gauge .fill.near { background: var(--near); }
.gauge .fill.fail { background: var(--fail); }
.gauge .fill.warn { background: var(--near); }
.gauge .fill.none { background: #8c959f; }
.gauge .limit { position: absolute; top: 0; bottom: 0; width: 2px; background: var(--ink); }
.gauge .figs { font-size: 13px; margin-top: 2px; }
.gauge .rownote { display: block; color: var(--muted); font-size: 12px; }
.badge { display: inline-block; margin-left: 6px; padding: 0 7px; border-radius: 9px; font-size: 12px;
         font-weight: 600; color: #fff; background: #8c959f; text-transform: uppercase; }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
.badge.warn { background: var(--near); }
.tag { display: inline-block; padding: 0 5px; border-radius: 4px; font-size: 11px; border: 1px solid;
       cursor: help; vertical-align: 1px; }
.tag.measured { color: var(--measured); border-color: var(--measured); }
.tag.estimated { color: var(--estimated); border-color: var(--estimated); }
.tag.counted { color: var(--counted); border-color: var(--counted); }
.tag.other { color: var(--muted); border-color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 8px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.card .k { color: var(--muted); font-size: 12px; }
.card .v { font-size: 16px; font-weight: 600; }
.num { font-variant-numeric: tabular-nums; }
.boxes { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 12px; }
.box { border: 1px solid var(--line); border-radius: 6px; padding: 10px; }
table { border-collapse: collapse; }
.facts th { text-align: left; font-weight: 600; padding: 2px 12px 2px 0; vertical-align: top; color: var(--muted); }
.facts td { padding: 2px 0; }
.scroll { overflow-x: auto; }
.layers, .steps { width: 100%; font-size: 13px; }
.layers th, .steps th { text-align: left; border-bottom: 2px solid var(--line); padding: 4px 8px; }
.layers td, .steps td { border-bottom: 1px solid #eaeef2; padding: 3px 8px; vertical-align: top; }
.layers tr.total td { font-weight: 700; border-top: 2px solid var(--line); }
th.r, td.r { text-align: right; font-variant-numeric: tabular-nums; }
.share { display: inline-block; width: 80px; height: 8px; background: #eaeef2; border-radius: 4px;
         vertical-align: middle; margin-right: 6px; overflow: hidden; }
.share div { height: 100%; background: #4e79a7; }
.pct { font-variant-numeric: tabular-nums; }
.metric { display: inline-block; margin: 0 14px 2px 0; }
.stepnote { color: var(--muted); font-size: 12px; }
.warnings li { margin: 2px 0; }
.trials td.r { white-space: nowrap; }
.trials tr.delivered td { background: #fff8c5; }
.trials tr.failed td, .trials tr.infeasible td { color: var(--muted); }
.mark-pareto { display: inline-block; margin-left: 4px; padding: 0 5px; border-radius: 4px; font-size: 11px;
               color: var(--pass); border: 1px solid var(--pass); }
svg.pareto { display: block; margin: 8px 0; max-width: 100%; height: auto; }
.fail-text { color: var(--fail); font-weight: 600; }
.section-error { color: var(--fail); font-style: italic; }
footer { margin-top: 32px; font-size: 12px; border-top: 1px solid var(--line); padding-top: 8px; }
a { color: #0969da; }
"""
