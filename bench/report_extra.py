"""RESULTS.md sections for the CRL, server-keygen and reminder benches (issue 15).

Called by bench/report.py with the directory holding the benches' JSON:
crl.json (`cargo bench -p orgcert-pki --bench crl`), keygen.json (`--bench keygen`),
reminders.json (`cargo bench -p orgcert-local --bench reminders`), floors.json (`cargo
bench -p orgcert-pki --bench floors`) with commit.json (`cargo bench -p orgcert-local --bench
commit`). A missing file leaves its section out.
"""
import json
from pathlib import Path

from report import COLORS, bar_chart, line_chart

COLORS.update({
    "orgcert RSA-3072 CA": "#1f5fbf", "orgcert ECDSA-P256 CA": "#5dade2",
    "openssl ca -gencrl": "#c0392b",
    "OpenSSL pipeline": "#c0392b", "orgcert, no pool": "#7f8c8d", "orgcert, pool 8": "#1f5fbf",
    "index-backed read (p50)": "#1f5fbf", "same query, full scan": "#c0392b",
})


def _load(d, name):
    p = Path(d) / name
    return json.loads(p.read_text()) if p.exists() else None


def _section(out, title, intro, columns, rows, charts):
    """A section: `title`, the `intro` paragraph, a table (`columns`: (heading, alignment)
    pairs; `rows`: lists of cells) and the `charts` ((file, alt text, SVG)) written to `out`
    and shown under the table."""
    lines = [f"## {title}", "", intro, "",
             "| " + " | ".join(h for h, _ in columns) + " |",
             "|" + "|".join(a for _, a in columns) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    for file, _, svg in charts:
        (out / file).write_text(svg)
    return lines + ["", " ".join(f"![{alt}]({file})" for file, alt, _ in charts), ""]


L, R = "---", "---:"


def _crl(data, out):
    rows, times, mem = [], {}, {}
    for r in data["crl"]:
        name = r["tool"] if r["tool"] != "orgcert" else f"orgcert {r['ca']} CA"
        rows.append([r["tool"], r["ca"], f"{r['entries']:,}", f"{r['ms']:.0f}", f"{r['der_mb']:.1f}",
                     f"{r['peak_mb']:.1f}", f"{r['peak_mb'] / r['der_mb']:.2f}"])
        times.setdefault(f"{r['entries']:,}", {})[name] = r["ms"]
        mem.setdefault(f"{r['entries']:,}", {})[name] = r["peak_mb"]
    return _section(
        out, "Full CRL",
        "One full CRL, built and signed once (`Authority::sign_crl`; the CA signs RSASSA-PSS "
        "when RSA), entries with random 16-octet serials, ¾ with a reason code. orgcert's "
        "memory: the RSS the build adds (VmHWM after resetting it with the entries already in "
        "memory; the CRL itself included). `openssl ca -gencrl`: RSA-3072 CA, an index.txt with "
        "the same revoked set (built by the bench, not timed), maximum RSS of the process "
        "(`/usr/bin/time`).",
        [("tool", L), ("CA", L), ("entries", R), ("ms", R), ("DER MB", R), ("memory MB", R),
         ("memory / DER", R)],
        rows,
        [("crl_time.svg", "CRL time", bar_chart(times, "ms", "Full CRL: build + sign time")),
         ("crl_memory.svg", "CRL memory",
          bar_chart(mem, "MB", "Full CRL: memory (orgcert: added RSS; openssl: peak RSS)"))])


def _keygen(data, out):
    all_rows, rows, p99 = data["keygen"], [], {}
    for r in all_rows:
        base = next((b for b in all_rows if b["key"] == r["key"] and b["load"] == r["load"]
                     and b["label"].startswith("OpenSSL")), None)
        ratio = f"{r['per_s'] / base['per_s']:.2f}" if base and not r["label"].startswith("OpenSSL") else ""
        who = r["label"].rsplit(",", 1)[0]
        rows.append([r["key"], r["load"], who, f"{r['per_s']:.1f}", f"{r['p50_ms']:.0f}",
                     f"{r['p99_ms']:.0f}", f"{r['max_ms']:.0f}", f"{r['cpu_ms']:.0f}", ratio])
        if r["key"] == "RSA-3072":
            p99.setdefault(f"{r['load']} p50", {})[who] = r["p50_ms"]
            p99.setdefault(f"{r['load']} p99", {})[who] = r["p99_ms"]
    return _section(
        out, "Server-side key generation",
        "The server-keygen issuance path (`PkiAuthority::issue` with a generated key: key, "
        "certificate signed by an RSA-3072 CA with RSASSA-PSS, PKCS#12), two holders in parallel, "
        "with and without the key pool (`ORGCERT_KEY_POOL`), next to an OpenSSL pipeline doing the "
        "same work (`openssl genpkey` + `req` + `x509 -req` + `pkcs12 -export`) in the same run. "
        "busy: back to back (the pool drains; then keys are generated on the request path). paced: "
        "1 s between a holder's issuances (two a second in all; the pool refills at nice 19 in between). CPU: "
        "user + system of the bench process (orgcert, refill thread included) or of the openssl "
        "children, per issuance. HTTP left out (about 1 ms). The AWS functions have no pool: each "
        "invocation generates its key (the no-pool rows).",
        [("leaf key", L), ("load", L), ("who", L), ("issuances/s", R), ("p50 ms", R), ("p99 ms", R),
         ("max ms", R), ("CPU ms / issuance", R), ("rate vs pipeline", R)],
        rows,
        [("keygen_latency.svg", "keygen latency",
          bar_chart(p99, "ms", "RSA-3072 server-keygen issuance latency, 2 holders"))])


def _reminders(data, out):
    rows = []
    series = {"index-backed read (p50)": [], "same query, full scan": []}
    for r in data["reminders"]:
        rows.append([f"{r['certificates']:,}", f"{r['due']}", f"{r['read_p50_ms']:.3f}",
                     f"{r['read_p99_ms']:.3f}", f"{r['scan_ms']:.1f}", f"`{r['plan']}`"])
        series["index-backed read (p50)"].append((r["certificates"], r["read_p50_ms"]))
        series["same query, full scan"].append((r["certificates"], r["scan_ms"]))
    return _section(
        out, "Reminder reads",
        "The renewal reminders job's read (`Store::expiring`, pages of 500 until the window ends) "
        "on the SQLite store with 40 certificates due and the rest expiring later (every tenth "
        "revoked); median and p99 of 200 reads. The `certificates_by_expiry (status, not_after)` "
        "index keeps it flat; the same window counted with `NOT INDEXED` (a full scan) for "
        "contrast.",
        [("certificates", R), ("due", R), ("read p50 ms", R), ("read p99 ms", R), ("full scan ms", R),
         ("query plan", L)],
        rows,
        [("reminders.svg", "reminder reads",
          line_chart(series, "certificates (log scale)", "ms", "Reminder read, 40 due"))])


def _floors(pki, commits):
    """The floors table, and what they add up to for the issuance goals (issue 15)."""
    rows = pki["floors"] + (commits["floors"] if commits else [])
    by = {r["what"]: r for r in rows}
    lines = ["## Floors: what an issuance cannot do without", "",
             "Each measured alone on this machine in the same run, one at a time "
             "(`cargo bench -p orgcert-pki --bench floors`, `cargo bench -p orgcert-local --bench "
             "commit`). CPU: user + system of the bench process, all its threads. An order + issue "
             "needs at least: the certificate from the CSR (CSR check, signature, its self-check), "
             "two durable commits (the order; the issued certificate) and one lease commit (the "
             "issuance claim that makes a double click issue once).", "",
             "| what | CPU µs | p50 µs | p99 µs | n |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['what']} | {r['cpu_us']:.1f} | {r['p50_us']:.1f} | {r['p99_us']:.1f} | {r['n']} |"
              for r in rows]
    durable = by.get("durable commit (Store::commit: WAL fsynced)")
    lease = by.get("lease commit (Store::commit_lease: no fsync)")
    sums = []
    for ca, goal in (("RSA-3072", 880), ("ECDSA P-256", 400)):
        cert = by.get(f"certificate from a P-256 CSR, {ca} CA (no store, no HTTP)")
        if cert and durable and lease:
            floor = cert["cpu_us"] + 2 * durable["cpu_us"] + lease["cpu_us"]
            sums.append(f"- {ca} CA: {cert['cpu_us']:.0f} + 2 × {durable['cpu_us']:.0f} + "
                        f"{lease['cpu_us']:.0f} = **{floor:.0f} µs** of CPU before HTTP, "
                        f"authentication and reads; the issue's goal was ≤ {goal} µs.")
    key = by.get("RSA-3072 key generated")
    if key:
        sums.append(f"- One RSA-3072 key, generated alone: p50 {key['p50_us'] / 1000:.0f} ms, "
                    f"p99 {key['p99_us'] / 1000:.0f} ms. Under the busy load the pool is empty, so "
                    "each issuance waits for such a key while the other holder's takes the "
                    "other core; the issue's goal was p99 ≤ 250 ms.")
    if sums:
        lines += ["", "Sums of the floors above:", ""] + sums
    return lines + [""]


def extra_sections(json_dir, out):
    """RESULTS.md lines for whichever of the benches ran (charts written to `out`)."""
    lines = []
    for name, render in (("crl.json", _crl), ("keygen.json", _keygen), ("reminders.json", _reminders)):
        data = _load(json_dir, name)
        if data is not None:
            lines += render(data, Path(out))
    floors = _load(json_dir, "floors.json")
    if floors is not None:
        lines += _floors(floors, _load(json_dir, "commit.json"))
    return lines
