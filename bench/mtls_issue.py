#!/usr/bin/env python3
"""Figure: API issuance over mutual TLS (API.md "System certificates: mutual TLS").

Spawns `orgcert serve` on a fresh data dir (127.0.0.1, free ports), gives the IdM a system
certificate with issuance_api, orders N `api` certificates, then times N issuances
`POST /v1/certificates/{serial}/issue {csr}`, each over a fresh TLS connection with the
IdM's certificate as client identity:

  handshake   TCP connect + TLS handshake (client certificate verified by rustls)
  total       handshake + request + the server's issuance (store check of the caller,
              claim, sign, commit) + answer
  server CPU  utime+stime of the server process (/proc/<pid>/stat) over the N issuances
              only (the orders are made before), divided by N

Keys and CSRs (P-256, openssl) are made before the clock starts. A benchmark, not a test:
it asserts nothing about speed. The machine may be shared; say so with the figures.

  bench/mtls_issue.py [-n N] [--bin target/debug/orgcert]   (build first: cargo build -p orgcert-functions)
"""
import argparse
import http.client
import json
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    # /proc/<pid>/stat: fields 14 and 15 (utime, stime) after the ")" of the command name.
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return int(rest[11]) + int(rest[12])


def call(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def key_and_csr(d, name):
    key, csr = os.path.join(d, f"{name}.key"), os.path.join(d, f"{name}.csr")
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=ignored"],
        check=True, capture_output=True)
    return key, open(csr).read()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/debug/orgcert"))
    ap.add_argument("--ca", default="ecdsa-p256", choices=["ecdsa-p256", "rsa-3072"],
                    help="the CA key algorithm of the fresh data dir")
    ap.add_argument("--json", help="also write the figures as JSON (bench/run, bench/report.py)")
    a = ap.parse_args()
    a.bin = os.path.abspath(a.bin)  # the server runs with its cwd in a temporary dir
    if not (1 <= a.n <= 10000):
        sys.exit("-n: 1..10000")
    work = tempfile.mkdtemp(prefix="orgcert-bench-")
    port, mport = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGCERT_")}
    env.update(ORGCERT_MTLS_ADDR=f"127.0.0.1:{mport}", ORGCERT_CA_KEY_ALGORITHM=a.ca,
               ORGCERT_LOG="warn")
    srv = subprocess.Popen([a.bin, "serve", "--data-dir", os.path.join(work, "data"),
                            "--addr", f"127.0.0.1:{port}"],
                           stdout=subprocess.PIPE, stderr=open(os.path.join(work, "server.log"), "w"), text=True, env=env,
                           cwd=work)
    try:
        banner, ready = [], threading.Event()

        def read():
            for line in srv.stdout:
                banner.append(line)
                if "--cacert" in line:
                    ready.set()
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(120):
            sys.exit(f"no mutual-TLS line in the banner (exit {srv.poll()}):\n" + "".join(banner)
                     + open(os.path.join(work, "server.log")).read()[-2000:])
        text = "".join(banner)
        tok = dict(re.findall(r"export (TOKEN_[A-Z_]+)=(\S+)", text))
        admin, contact = tok["TOKEN_USER_ADMIN"], tok["TOKEN_DEMO_CONTACT"]
        base = f"http://127.0.0.1:{port}"
        ca = os.path.join(work, "ca.pem")
        open(ca, "wb").write(call("GET", f"{base}/public/ca.pem")[1])

        # The IdM: a system certificate with issuance_api, issued by its contact from a CSR.
        s, body = call("POST", f"{base}/v1/profiles", admin, {
            "type": "system", "name": "IdM", "contact_email": "carl.contact@demo-org.dk",
            "issuing": "direct", "key_algorithm": "ecdsa-p256",
            "system_rights": {"administration_api": False, "issuance_api": True}})
        assert s == 201, body
        token = json.loads(body)["issuance_url"].rsplit("/", 1)[1]
        idm_key, idm_csr = key_and_csr(work, "idm")
        s, body = call("POST", f"{base}/v1/issuance/{token}", contact,
                       {"accept_terms": True, "csr": idm_csr})
        assert s == 201, body
        idm_cert = os.path.join(work, "idm.pem")
        open(idm_cert, "w").write(json.loads(body)["certificate_pem"])

        # N api orders and N CSRs, before the clock starts.
        orders, csrs = [], []
        for i in range(a.n):
            s, body = call("POST", f"{base}/v1/profiles", admin, {
                "type": "system", "name": f"Service {i}", "contact_email": "carl.contact@demo-org.dk",
                "identification": "api", "issuing": "api", "key_algorithm": "ecdsa-p256"})
            assert s == 201, body
            orders.append(json.loads(body)["certificate"]["serial"])
            csrs.append(key_and_csr(work, f"svc{i}")[1])

        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(idm_cert, idm_key)
        hs, total = [], []
        cpu0 = cpu_ticks(srv.pid)
        wall0 = time.perf_counter()
        for serial, csr in zip(orders, csrs):
            t0 = time.perf_counter()
            c = http.client.HTTPSConnection("127.0.0.1", mport, context=ctx, timeout=60)
            c.connect()
            t1 = time.perf_counter()
            c.request("POST", f"/v1/certificates/{serial}/issue", json.dumps({"csr": csr}),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            t2 = time.perf_counter()
            c.close()
            if r.status != 201:
                sys.exit(f"issue {serial}: HTTP {r.status}")
            hs.append((t1 - t0) * 1000)
            total.append((t2 - t0) * 1000)
        wall = time.perf_counter() - wall0
        cpu = (cpu_ticks(srv.pid) - cpu0) / os.sysconf("SC_CLK_TCK")
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"ca": a.ca, "server": "orgcert mTLS API issue", "n": a.n,
                           "cpu_us": cpu * 1e6 / a.n, "p50_ms": pct(total, 50), "p99_ms": pct(total, 99),
                           "handshake_p50_ms": pct(hs, 50), "handshake_p99_ms": pct(hs, 99)}, f)
        print(f"orgcert mTLS API issuance, N={a.n}, {a.ca} CA, binary {a.bin}, {os.cpu_count()} CPUs")
        print(f"  handshake        p50 {pct(hs, 50):7.2f} ms   p99 {pct(hs, 99):7.2f} ms")
        print(f"  handshake+issue  p50 {pct(total, 50):7.2f} ms   p99 {pct(total, 99):7.2f} ms"
              f"   mean {statistics.fmean(total):7.2f} ms")
        print(f"  server CPU       {cpu * 1000 / a.n:7.2f} ms per issuance"
              f" ({cpu:.2f} s over {wall:.2f} s wall, {a.n / wall:.1f} issuances/s sequential)")
    finally:
        srv.terminate()
        try:
            srv.wait(10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
