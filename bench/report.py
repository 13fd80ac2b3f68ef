#!/usr/bin/env python3
"""Renders the JSON of `cargo bench --bench compare` as docs/perf/RESULTS.md + SVG charts.

usage: bench/report.py RESULTS.json OUT_DIR [MTLS.json ...]   (bench/mtls_issue.py --json)

The charts are plain SVG written here (a line chart and a grouped bar chart are a few
dozen lines; no plotting library to install on the bench machine).
"""
import html
import json
import math
import sys
from pathlib import Path

COLORS = {"orgcert": "#1f5fbf", "openssl ocsp": "#c0392b", "bare HTTP, fixed answer": "#7f8c8d", "orgcert mTLS API issue": "#27ae60",
          "orgcert order + issue": "#1f5fbf", "cfssl serve sign": "#c0392b"}


def svg_frame(w, h, title, body):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">'
            f'<rect width="{w}" height="{h}" fill="white"/>'
            f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14">{html.escape(title)}</text>'
            + body + "</svg>\n")


def nice_max(v):
    if v <= 0 or math.isnan(v):
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def line_chart(series, xlabel, ylabel, title):
    """series: {name: [(x, y)]}; x on a log2 scale (concurrency levels)."""
    w, h, l, r, t, b = 640, 360, 70, 150, 30, 50
    xs = sorted({x for pts in series.values() for x, _ in pts})
    ymax = nice_max(max((y for pts in series.values() for _, y in pts if not math.isnan(y)), default=1))
    lx = [math.log2(x) for x in xs]
    x0, x1 = min(lx), max(lx) if max(lx) > min(lx) else min(lx) + 1

    def px(x):
        return l + (math.log2(x) - x0) / (x1 - x0) * (w - l - r)

    def py(y):
        return h - b - y / ymax * (h - t - b)

    body = [f'<line x1="{l}" y1="{h - b}" x2="{w - r}" y2="{h - b}" stroke="black"/>',
            f'<line x1="{l}" y1="{t}" x2="{l}" y2="{h - b}" stroke="black"/>']
    for i in range(6):
        y = ymax * i / 5
        body.append(f'<text x="{l - 6}" y="{py(y) + 4}" text-anchor="end">{y:g}</text>')
        body.append(f'<line x1="{l}" y1="{py(y)}" x2="{w - r}" y2="{py(y)}" stroke="#ddd"/>')
    for x in xs:
        body.append(f'<text x="{px(x)}" y="{h - b + 16}" text-anchor="middle">{x}</text>')
    body.append(f'<text x="{(l + w - r) / 2}" y="{h - 10}" text-anchor="middle">{html.escape(xlabel)}</text>')
    body.append(f'<text x="16" y="{(t + h - b) / 2}" text-anchor="middle" '
                f'transform="rotate(-90 16 {(t + h - b) / 2})">{html.escape(ylabel)}</text>')
    for k, (name, pts) in enumerate(series.items()):
        c = COLORS.get(name, "#555")
        pts = [(x, y) for x, y in sorted(pts) if not math.isnan(y)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        for x, y in pts:
            body.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
        body.append(f'<rect x="{w - r + 10}" y="{t + 10 + 18 * k}" width="12" height="12" fill="{c}"/>')
        body.append(f'<text x="{w - r + 28}" y="{t + 20 + 18 * k}">{html.escape(name)}</text>')
    return svg_frame(w, h, title, "".join(body))


def bar_chart(groups, ylabel, title):
    """groups: {group: {name: value}}"""
    w, h, l, r, t, b = 640, 360, 70, 170, 30, 50
    names = list(dict.fromkeys(n for g in groups.values() for n in g))
    ymax = nice_max(max((v for g in groups.values() for v in g.values()), default=1))
    gw = (w - l - r) / max(len(groups), 1)
    bw = gw * 0.7 / max(len(names), 1)

    def py(y):
        return h - b - y / ymax * (h - t - b)

    body = [f'<line x1="{l}" y1="{h - b}" x2="{w - r}" y2="{h - b}" stroke="black"/>']
    for i in range(6):
        y = ymax * i / 5
        body.append(f'<text x="{l - 6}" y="{py(y) + 4}" text-anchor="end">{y:g}</text>')
        body.append(f'<line x1="{l}" y1="{py(y)}" x2="{w - r}" y2="{py(y)}" stroke="#ddd"/>')
    for gi, (g, vals) in enumerate(groups.items()):
        gx = l + gi * gw + gw * 0.15
        for ni, n in enumerate(names):
            if n not in vals:
                continue
            v = vals[n]
            x = gx + ni * bw
            body.append(f'<rect x="{x:.1f}" y="{py(v):.1f}" width="{bw * 0.9:.1f}" '
                        f'height="{h - b - py(v):.1f}" fill="{COLORS.get(n, "#555")}"/>')
            body.append(f'<text x="{x + bw * 0.45:.1f}" y="{py(v) - 4:.1f}" text-anchor="middle" '
                        f'font-size="10">{v:.0f}</text>')
        body.append(f'<text x="{l + gi * gw + gw / 2:.1f}" y="{h - b + 16}" '
                    f'text-anchor="middle">{html.escape(g)}</text>')
    body.append(f'<text x="16" y="{(t + h - b) / 2}" text-anchor="middle" '
                f'transform="rotate(-90 16 {(t + h - b) / 2})">{html.escape(ylabel)}</text>')
    for k, n in enumerate(names):
        body.append(f'<rect x="{w - r + 10}" y="{t + 10 + 18 * k}" width="12" height="12" '
                    f'fill="{COLORS.get(n, "#555")}"/>')
        body.append(f'<text x="{w - r + 28}" y="{t + 20 + 18 * k}">{html.escape(n)}</text>')
    return svg_frame(w, h, title, "".join(body))


def main():
    data = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    data["issuance"] += [json.loads(Path(f).read_text()) for f in sys.argv[3:]]
    out.mkdir(parents=True, exist_ok=True)
    m = data["machine"]
    lines = ["# Performance: orgcert next to cfssl and `openssl ocsp`", "",
             "Written by `bench/run`" + (" --quick (small counts: figures are indicative only)" if data["quick"] else "")
             + f" on {m['date']}: {m['cores']} × {m['cpu']}; {m['openssl']}; cfssl {m['cfssl']}.",
             "Same run, same load client (Rust, reqwest, keep-alive), loopback only; server CPU is "
             "user + system time of the server process from `/proc/<pid>/stat`.", ""]

    lines += ["## Issuance from a P-256 CSR", "",
              "orgcert order + issue: order (administrator) + issue (holder), two HTTP requests on one "
              "keep-alive connection, the certificate stored durably before the answer. orgcert mTLS API "
              "issue: `POST /v1/certificates/{serial}/issue` by a system certificate over mutual TLS, a "
              "fresh TLS connection each (handshake included; `bench/mtls_issue.py`, Python client), "
              "orders placed before. cfssl 1.2: `cfssl serve` `/api/v1/cfssl/sign`, one request, nothing "
              "stored.", "",
              "| CA key | server | CPU µs / certificate | p50 ms | p99 ms | n | CPU ratio orgcert / cfssl |",
              "|---|---|---:|---:|---:|---:|---:|"]
    groups = {}
    for ca in dict.fromkeys(r["ca"] for r in data["issuance"]):
        rows = [r for r in data["issuance"] if r["ca"] == ca]
        theirs = next(r for r in rows if r["server"].startswith("cfssl"))
        for r in rows:
            ratio = (f"{r['cpu_us'] / theirs['cpu_us']:.2f}"
                     if r["server"].startswith("orgcert") and theirs["cpu_us"] > 0 else "")
            lines.append(f"| {ca} | {r['server']} | {r['cpu_us']:.0f} | {r['p50_ms']:.2f} | "
                         f"{r['p99_ms']:.2f} | {r['n']} | {ratio} |")
        groups[ca + " CA"] = {r["server"]: r["cpu_us"] for r in rows}
    (out / "issuance_cpu.svg").write_text(bar_chart(groups, "server CPU µs per certificate",
                                                    "Issuance from a CSR: server CPU per certificate"))
    lines += ["", "![issuance CPU](issuance_cpu.svg)", ""]

    lines += ["## OCSP", "",
              "POST `application/ocsp-request` over loopback, distinct requests round-robin. orgcert answers "
              "from its pre-signed store with its delegated responder; `openssl ocsp` signs each answer "
              "with the RSA-3072 CA key (single process, as it runs). bare HTTP, fixed answer: the floor, "
              "orgcert's HTTP stack (tokio, `axum::serve`, hyper; `tests/src/bin/bare-http.rs`) answering "
              "the same requests with one of orgcert's answers and doing nothing else.", "",
              "| server | concurrency | responses/s | CPU µs / response | errors |", "|---|---:|---:|---:|---:|"]
    rps, cpu = {}, {}
    for r in data["ocsp"]:
        lines.append(f"| {r['server']} | {r['concurrency']} | {r['rps']:.0f} | {r['cpu_us']:.1f} | {r['errors']} |")
        rps.setdefault(r["server"], []).append((r["concurrency"], r["rps"]))
        cpu.setdefault(r["server"], []).append((r["concurrency"], r["cpu_us"]))
    best = {s: max(y for _, y in pts) for s, pts in rps.items()}
    if "orgcert" in best and "openssl ocsp" in best and best["openssl ocsp"] > 0:
        lines += ["", f"Best rate: orgcert {best['orgcert']:.0f}/s, openssl ocsp {best['openssl ocsp']:.0f}/s "
                      f"— ratio {best['orgcert'] / best['openssl ocsp']:.1f}×."]
    bare = {r["concurrency"]: r["cpu_us"] for r in data["ocsp"] if r["server"] == "bare HTTP, fixed answer"}
    ours = {r["concurrency"]: r["cpu_us"] for r in data["ocsp"] if r["server"] == "orgcert"}
    if bare and ours:
        lines += ["", "CPU per response above the floor (orgcert − bare HTTP): " + ", ".join(
            f"c={c}: {ours[c] - bare[c]:.1f} µs" for c in sorted(ours) if c in bare) + "."]
    (out / "ocsp_rps.svg").write_text(line_chart(rps, "concurrency", "responses / s", "OCSP responses per second"))
    (out / "ocsp_cpu.svg").write_text(line_chart(cpu, "concurrency", "server CPU µs / response",
                                                 "OCSP server CPU per response"))
    lines += ["", "![OCSP rate](ocsp_rps.svg) ![OCSP CPU](ocsp_cpu.svg)", ""]
    # --- CRL, server keygen, reminder reads (bench/report_extra.py; JSON next to argv[1]) ---
    from report_extra import extra_sections
    lines += extra_sections(Path(sys.argv[1]).parent, out)
    # --- end ---
    (out / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
