#!/usr/bin/env python3
"""docs/perf/COST.md from a measured run: AWS calls per operation (moto, counted by the
usage wrapper of tests/aws/moto/sitecustomize.py) times AWS list prices, next to AWS
Private CA's published prices for the same volume.

usage: cost.py MEASURED.json infra/template.yaml OUT.md

The template gives the memory of each function and the schedules; the measured JSON gives
calls, DynamoDB request units and the wall time per operation. Prices are constants below
(us-east-1, on-demand, as listed on the AWS pricing pages; see PRICES_AS_OF).
"""

import json
import math
import re
import sys

PRICES_AS_OF = "2026-11-29"
REGION = "us-east-1"
# USD. Lambda arm64; API Gateway HTTP API (first 300M/month); DynamoDB on-demand (since the
# November 2024 price change); KMS asymmetric requests other than RSA 2048; S3 Standard;
# SES outbound; EventBridge custom events; X-Ray traces recorded; CloudWatch standard alarm.
PRICE = {
    "lambda_gb_s": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "apigw_request": 1.00 / 1e6,
    "ddb_wru": 0.625 / 1e6,
    "ddb_rru": 0.125 / 1e6,
    "kms_sign": 0.15 / 1e4,
    "kms_key_month": 1.00,
    "s3_put": 0.005 / 1e3,
    "s3_get": 0.0004 / 1e3,
    "ses_mail": 0.10 / 1e3,
    "events_put": 1.00 / 1e6,
    "xray_trace": 5.00 / 1e6,
    "alarm_month": 0.10,
    "logs_gb": 0.50,
}
# AWS Private CA, general-purpose mode: $400 per CA per month; certificates per month in
# tiers; OCSP $0.06 per 10,000 requests (aws.amazon.com/private-ca/pricing).
PCA_CA_MONTH = 400.0
PCA_TIERS = [(1000, 0.75), (10000, 0.35), (math.inf, 0.001)]
PCA_OCSP = 0.06 / 1e4
# Bytes of the JSON request line and trace metadata each invocation logs (an estimate:
# one structured line per request, docs/ARCHITECTURE/infra README).
LOG_BYTES_PER_REQUEST = 600
# X-Ray's default sampling rule: the first request each second (the reservoir) and 5% of
# the rest are traced; at volume the marginal request costs 5% of a trace.
XRAY_RESERVOIR_PER_MONTH = 30 * 24 * 3600
XRAY_RATE = 0.05
MINUTES_PER_MONTH = 30 * 24 * 60


def template_facts(path):
    """Memory per function (Globals default + overrides), alarms, keys, schedules."""
    text = open(path).read()
    default = int(re.search(r"Globals:\s*\n\s*Function:(?:\n\s+.*)*?\n\s+MemorySize: (\d+)", text).group(1))
    memory = {}
    for m in re.finditer(r"\n  (\w+)Function:\n    Type: AWS::Serverless::Function\n((?:    .*\n|\s*\n)*)", text):
        body = m.group(2)
        mm = re.search(r"\n      MemorySize: (\d+)", "\n" + body)
        memory[m.group(1)] = int(mm.group(1)) if mm else default
    alarms = len(re.findall(r"Type: AWS::CloudWatch::Alarm", text))
    keys = [k for k in ("CaKey", "RootKey") if re.search(rf"\n  {k}:\n    Type: AWS::KMS::Key", text)]
    return default, memory, alarms, keys


def pca_certificates(n):
    cost, prev = 0.0, 0
    for limit, price in PCA_TIERS:
        take = max(0, min(n, limit) - prev)
        cost += take * price
        prev = limit
        if n <= limit:
            break
    return cost


def op_cost(m, memory_mb, http=True):
    """USD of one operation: AWS calls of the measured run, one Lambda invocation of
    `memory_mb` for the measured wall time, API Gateway and X-Ray when it is a request."""
    calls = m["calls"]

    def c(key):
        return calls.get(key, 0.0)

    items = {
        "DynamoDB writes": m["dynamodb_write_units"] * PRICE["ddb_wru"],
        "DynamoDB reads": m["dynamodb_read_units"] * PRICE["ddb_rru"],
        "KMS Sign": c("kms:Sign") * PRICE["kms_sign"],
        "S3": sum(v for k, v in calls.items() if k in ("s3:PutObject", "s3:DeleteObjects", "s3:DeleteObject")) * PRICE["s3_put"]
        + sum(v for k, v in calls.items() if k in ("s3:GetObject", "s3:HeadObject", "s3:ListObjectsV2")) * PRICE["s3_get"],
        "SES": c("sesv2:SendEmail") * PRICE["ses_mail"],
        "Lambda": PRICE["lambda_request"] + memory_mb / 1024 * max(1.0, m["wall_ms_on_moto"]) / 1000 * PRICE["lambda_gb_s"],
        "API Gateway": PRICE["apigw_request"] if http else 0.0,
        "X-Ray (5% sampled)": XRAY_RATE * PRICE["xray_trace"],
        "Logs": LOG_BYTES_PER_REQUEST / 1e9 * PRICE["logs_gb"],
    }
    return items


def money(x):
    if x == 0:
        return "$0"
    if x < 0.01:
        return f"${x:.4f}"
    return f"${x:,.2f}"


def main():
    measured = json.load(open(sys.argv[1]))
    build = measured.pop("build", "unknown")
    default_mb, memory, alarms, keys = template_facts(sys.argv[2])
    out = sys.argv[3]
    mem = lambda name, fallback=default_mb: memory.get(name, fallback)

    # Per 1,000 issuances: the order, the issuance (PKCS#12 made in the function), the
    # download from S3 (presigned: no Lambda), two lifecycle events delivered in batches
    # of ten by the every-minute deliver-events job (its invocations are fixed cost).
    order = op_cost(measured["order"], mem("CreateProfile"))
    issue = op_cost(measured["issue_pkcs12_rsa3072"], mem("IssueCertificate"))
    dl = measured["download_pkcs12"]["calls"]
    download = {"S3": dl.get("s3:GetObject", 0.0) * PRICE["s3_get"]}
    events = {"EventBridge": 2 * PRICE["events_put"]}
    per_issuance = {}
    for part in (order, issue, download, events):
        for k, v in part.items():
            per_issuance[k] = per_issuance.get(k, 0.0) + v
    csr = op_cost(measured["issue_csr"], mem("IssueCertificate"))
    csr_total = sum(order.values()) + sum(csr.values()) + 2 * PRICE["events_put"]

    ocsp = op_cost(measured["ocsp_post"], mem("OcspPost"))
    per_ocsp = sum(ocsp.values())

    # Fixed per month: keys, alarms, the every-minute crl-refresh when nothing changed,
    # deliver-events (as idle: one query), hourly housekeeping, daily reminders.
    idle = op_cost(measured["job_crl_refresh_idle"], mem("CrlRefresh"), http=False)
    house = op_cost(measured["job_housekeeping"], mem("Housekeeping"), http=False)
    remind = op_cost(measured["job_renewal_reminders"], mem("RenewalReminders"), http=False)
    fixed = {
        f"KMS keys ({', '.join(keys)})": len(keys) * PRICE["kms_key_month"],
        f"CloudWatch alarms ({alarms})": alarms * PRICE["alarm_month"],
        "crl-refresh every minute (idle run)": MINUTES_PER_MONTH * sum(idle.values()),
        "deliver-events every minute (idle; taken as an idle crl-refresh run, which reads more)": MINUTES_PER_MONTH * sum(idle.values()),
        "housekeeping hourly": 30 * 24 * sum(house.values()),
        "renewal-reminders daily": 30 * sum(remind.values()),
    }
    fixed_total = sum(fixed.values())
    xray_reservoir = XRAY_RESERVOIR_PER_MONTH * (1 - XRAY_RATE) * PRICE["xray_trace"]

    lines = []
    w = lines.append
    w("# Cost per certificate in AWS: orgcert's serverless shape vs AWS Private CA")
    w("")
    w(f"Generated by `bench/cost` from a measured run on moto; prices: {REGION} list prices "
      f"(on-demand) as of {PRICES_AS_OF}, in `bench/cost.py`. Re-run `bench/cost` after a change "
      "to the data path; edit the constants there when prices move.")
    w("")
    w("## How the figures are made")
    w("")
    w("- **Calls** are counted, not estimated: `tests/tests/api/cost.rs` drives the AWS "
      "composition (the same use cases and adapters the Lambda functions run) on a moto "
      "server whose usage wrapper (`tests/aws/moto/sitecustomize.py`, `GET /_orgcert/usage`) "
      "counts every call by service and action and the DynamoDB request units of each "
      "(on-demand rules: writes per 1 KB, reads per 4 KB, transactions twice; item size = "
      "its JSON length, so the units are an upper bound).")
    w("- **Lambda** time is the operation's wall time on moto on this machine (rounded up to "
      f"1 ms; {build} build), billed at the function's memory from `infra/template.yaml` (arm64). Real "
      "DynamoDB/KMS round trips are of the same order; cold starts (about one in a hundred "
      "invocations at steady load) add their init time and are not in the figures.")
    w("- **API Gateway** (HTTP API) counts once per request, **X-Ray** per its default "
      "sampling rule (one a second, then 5%); **logs** one JSON "
      f"request line of ~{LOG_BYTES_PER_REQUEST} bytes. Free tiers are ignored.")
    w(f"- Measured run: {measured['order']['n']} orders, issuances and downloads, "
      f"{measured['ocsp_post']['n']} OCSP requests, one run of each job.")
    w("")
    w("## Calls per operation (measured)")
    w("")
    w("| operation | AWS calls | DynamoDB RRU | DynamoDB WRU | wall ms on moto |")
    w("|---|---|---:|---:|---:|")
    for name, m in measured.items():
        calls = ", ".join(f"{k} {v:g}" for k, v in sorted(m["calls"].items()))
        w(f"| {name} | {calls or '—'} | {m['dynamodb_read_units']:.1f} | {m['dynamodb_write_units']:.1f} | {m['wall_ms_on_moto']:.1f} |")
    w("")
    w("## Per 1,000 issuances (order + PKCS#12 issuance + download + 2 events)")
    w("")
    w("| item | USD per 1,000 |")
    w("|---|---:|")
    for k, v in per_issuance.items():
        w(f"| {k} | {money(1000 * v)} |")
    total_issue = sum(per_issuance.values())
    w(f"| **total** | **{money(1000 * total_issue)}** |")
    w("")
    w(f"With a CSR instead of a PKCS#12 made in the function: {money(1000 * csr_total)} per 1,000.")
    w("")
    w("## Per 1M OCSP answers (POST, pre-signed answer)")
    w("")
    w("| item | USD per 1M |")
    w("|---|---:|")
    for k, v in ocsp.items():
        w(f"| {k} | {money(1e6 * v)} |")
    w(f"| **total** | **{money(1e6 * per_ocsp)}** |")
    w("")
    w("Behind the optional CloudFront distribution (`infra/README.md`), OCSP GET answers are "
      "cached per their `Cache-Control`; each cache hit costs CloudFront's request price "
      "instead of the API Gateway + Lambda + DynamoDB path above.")
    w("")
    w("## Fixed per month")
    w("")
    w("| item | USD per month |")
    w("|---|---:|")
    for k, v in fixed.items():
        w(f"| {k} | {money(v)} |")
    w(f"| **total** | **{money(fixed_total)}** |")
    w("")
    w(f"X-Ray's reservoir (one trace a second before sampling) adds up to {money(xray_reservoir)} "
      "a month when requests arrive every second; the comparison below counts it in full "
      "as soon as a month has that many requests.")
    w("")
    w("Storage is extra and small: a certificate's items are a few KB in DynamoDB "
      "($0.25/GB-month, PITR $0.20/GB-month) and its PKCS#12 a few KB in S3 until housekeeping "
      "removes it.")
    w("")
    w("## Side by side with AWS Private CA (general-purpose mode, root + issuing CA)")
    w("")
    w("| volume per month | orgcert (AWS shape) | AWS Private CA |")
    w("|---|---:|---:|")
    for certs, ocsps in ((100, 100_000), (1_000, 1_000_000), (10_000, 10_000_000), (100_000, 100_000_000)):
        requests = 2 * certs + ocsps
        reservoir = min(requests, XRAY_RESERVOIR_PER_MONTH) * (1 - XRAY_RATE) * PRICE["xray_trace"]
        ours = fixed_total + certs * total_issue + ocsps * per_ocsp + reservoir
        pca = 2 * PCA_CA_MONTH + pca_certificates(certs) + ocsps * PCA_OCSP
        w(f"| {certs:,} certificates, {ocsps:,} OCSP answers | {money(ours)} | {money(pca)} |")
    w("")
    w("AWS Private CA also needs something that does what orgcert's console, ordering, "
      "issuance links, PKCS#12, reminders and directory do; its price covers the CA only.")
    w("")
    open(out, "w").write("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
