"""Test-only patches for moto_server, loaded through PYTHONPATH by tests/src/moto.rs
(only when ORGCERT_MOTO_PATCHES=1). They make the emulator stricter (or faster), never
laxer:

1. KMS Sign honours MessageType=DIGEST. moto 5.2.5 ignores it and hashes the digest
   again, so a signature over a digest (the KMS signer's path for messages over 4096
   bytes, e.g. large CRLs) would never verify. And KMS Sign with a disabled key, or one
   pending deletion, is refused as KMS refuses it (DisabledException,
   KMSInvalidStateException); moto signs with it.
2. S3 presigned GETs are checked as S3 checks them: a link past X-Amz-Date +
   X-Amz-Expires is refused, and, for the fixed emulator credentials the tests use, the
   SigV4 query signature is recomputed (RFC-style canonical request, UNSIGNED-PAYLOAD)
   and a mismatch refused. moto checks neither. The signature is checked before the
   expiry, so a tampered link is refused as tampered even when it is also expired.
   KMS Sign with RSASSA_PSS_* salts with the hash length, as KMS does (moto: the
   longest salt the key allows).
3. A test clock for those checks: `POST /_orgcert/clock?now=<unix seconds>` sets the
   instant the expiry check takes as "now" (an offset from the wall clock, so it keeps
   running). The API tests run the service on a manual clock and move time; presigned
   links carry that clock's X-Amz-Date, and the harness sets this clock to the same
   instant before fetching a link, so "the link expired" means what it means in AWS.
   Without a call the wall clock is used.
4. DynamoDB writes are serialised as DynamoDB serialises them: moto's server runs each
   request on its own thread, and its TransactWriteItems checks every condition, then
   writes, without a lock, so two concurrent transactions (or a transaction and a
   conditional PutItem) on the same item could both pass their conditions. One lock
   around the item reads and writes makes every call atomic, as in DynamoDB.
5. TransactWriteItems keeps an undo log of the items it touches instead of moto's
   `copy.deepcopy` of the whole table per item of the transaction (a 40-item
   transaction on a table of 30,000 items outlasted the SDK's 15 s timeout). A cancelled transaction restores exactly
   those items, which are the only ones it can have changed: same outcome, faster.
6. TransactWriteItems honours ClientRequestToken as DynamoDB does (for 10 minutes): a
   repeat of a transaction that succeeded returns success without applying it again; the
   same token with other items is refused (IdempotentParameterMismatchException). moto
   ignores the token, so an SDK retry of a transaction whose answer timed out under load
   failed its own conditions; the DynamoDB store relies on the token (store/commit.rs).
7. Delay injection, for the deadline tests: `POST /_orgcert/delay?service=<kms|dynamodb>
   &seconds=<s>` makes every later call of that service wait that long before moto
   answers it (`seconds=0` ends it). AWS is sometimes that slow; moto never is, so
   without this the code that gives up before the Lambda deadline is never exercised.
   And a count of calls per service: `GET /_orgcert/calls` answers
   `{"kms": n, "dynamodb": m}` (calls so far), e.g. to show that a cold start makes no
   KMS call.
8. Usage by action, for the cost model (docs/perf/COST.md): `GET /_orgcert/usage` answers
   `{"calls": {"dynamodb:Query": n, "kms:Sign": n, "s3:PutObject": n, "sesv2:SendEmail":
   n, "events:PutEvents": n, ...}, "dynamodb_units": {"read": r, "write": w}}` since the
   last `POST /_orgcert/usage/reset`. DynamoDB request units follow the on-demand rules
   (writes 1 KB, reads 4 KB, transactions twice, eventually consistent reads half) with
   the item size taken as the length of its JSON — DynamoDB counts raw names and values,
   so the units are an upper bound.
"""

import os
import sys


def _patch_kms():
    import base64
    import json

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
    from moto.kms import responses
    from moto.kms.exceptions import ValidationException

    original = responses.KmsResponse.sign
    hashes_of = {
        "RSASSA_PKCS1_V1_5_SHA_256": hashes.SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384": hashes.SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512": hashes.SHA512,
        "ECDSA_SHA_256": hashes.SHA256,
        "ECDSA_SHA_384": hashes.SHA384,
        "ECDSA_SHA_512": hashes.SHA512,
    }

    pss_hashes = {
        "RSASSA_PSS_SHA_256": hashes.SHA256,
        "RSASSA_PSS_SHA_384": hashes.SHA384,
        "RSASSA_PSS_SHA_512": hashes.SHA512,
    }

    def sign_pss(self, algorithm):
        key = self.kms_backend.describe_key(self._get_param("KeyId"))
        if algorithm not in key.signing_algorithms:
            raise ValidationException(f"signing algorithm {algorithm} not valid for this key")
        h = pss_hashes[algorithm]()
        message = self._get_param("Message")
        if self._get_param("MessageType") == "DIGEST":
            if len(message) != h.digest_size:
                raise ValidationException(
                    f"Digest is invalid length for algorithm {algorithm}."
                )
            how = utils.Prehashed(h)
        else:
            how = h
        # KMS salts PSS with as many octets as the hash (RSASSA_PSS_SHA_256: a 256-bit
        # salt); moto uses the longest salt the key allows, which verifiers that expect
        # the RFC 4055 parameters (salt 32) refuse.
        pad = padding.PSS(mgf=padding.MGF1(pss_hashes[algorithm]()), salt_length=h.digest_size)
        signature = key.private_key.private_key.sign(message, pad, how)
        return json.dumps(
            {
                "KeyId": key.arn,
                "Signature": base64.b64encode(signature).decode("ascii"),
                "SigningAlgorithm": algorithm,
            }
        )

    from moto.core.exceptions import JsonRESTError

    def sign(self):
        state = self.kms_backend.describe_key(self._get_param("KeyId")).key_state
        if state == "Disabled":
            raise JsonRESTError("DisabledException", "The key is disabled.")
        if state != "Enabled":
            raise JsonRESTError("KMSInvalidStateException", f"The key is {state}.")
        algorithm = self._get_param("SigningAlgorithm")
        if algorithm in pss_hashes:
            return sign_pss(self, algorithm)
        if self._get_param("MessageType") != "DIGEST":
            return original(self)
        key = self.kms_backend.describe_key(self._get_param("KeyId"))
        algorithm = self._get_param("SigningAlgorithm")
        digest = self._get_param("Message")
        if algorithm not in hashes_of or algorithm not in key.signing_algorithms:
            raise ValidationException(f"signing algorithm {algorithm} not valid for this key")
        h = hashes_of[algorithm]()
        if len(digest) != h.digest_size:
            raise ValidationException(
                f"Digest is invalid length for algorithm {algorithm}."
            )
        private = key.private_key.private_key
        if isinstance(private, rsa.RSAPrivateKey):
            signature = private.sign(digest, padding.PKCS1v15(), utils.Prehashed(h))
        else:
            signature = private.sign(digest, ec.ECDSA(utils.Prehashed(h)))
        return json.dumps(
            {
                "KeyId": key.arn,
                "Signature": base64.b64encode(signature).decode("ascii"),
                "SigningAlgorithm": algorithm,
            }
        )

    responses.KmsResponse.sign = sign


# The credentials orgcert_aws::sdk_config uses with an endpoint override.
EMULATOR_KEY_ID = "orgcert-emulator"
EMULATOR_SECRET = "orgcert-emulator-secret"


# Seconds added to the wall clock by the expiry check (see 3. above).
_CLOCK = {"offset": 0.0}


def _set_clock(environ):
    import time
    from urllib.parse import parse_qs

    try:
        now = float(parse_qs(environ.get("QUERY_STRING", ""))["now"][0])
    except (KeyError, IndexError, ValueError):
        return "400 Bad Request", b"now=<unix seconds> expected"
    _CLOCK["offset"] = now - time.time()
    return "204 No Content", b""


def _presign_problem(environ):
    import datetime
    import hashlib
    import hmac
    from urllib.parse import quote, unquote

    pairs = []
    for part in environ.get("QUERY_STRING", "").split("&"):
        if part:
            k, _, v = part.partition("=")
            pairs.append((unquote(k), unquote(v)))
    q = dict(pairs)
    try:
        amz_date = q["X-Amz-Date"]
        expires = int(q["X-Amz-Expires"])
        signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
        credential = q["X-Amz-Credential"]
        signed_headers = q["X-Amz-SignedHeaders"]
        signature = q["X-Amz-Signature"]
    except (KeyError, ValueError):
        return ("AuthorizationQueryParametersError", "Query-string authentication is malformed")

    def expiry_problem():
        now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
            seconds=_CLOCK["offset"]
        )
        if now >= signed_at + datetime.timedelta(seconds=expires):
            return ("AccessDenied", "Request has expired")
        if now < signed_at - datetime.timedelta(minutes=15):
            return ("AccessDenied", "Request is not valid yet")
        return None

    key_id, _, scope = credential.partition("/")
    if key_id != EMULATOR_KEY_ID:
        return expiry_problem()
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", ""))
    path = raw.split("?", 1)[0]

    def enc(s):
        return quote(s, safe="-_.~")

    canonical_query = "&".join(
        f"{enc(k)}={enc(v)}" for k, v in sorted(pairs) if k != "X-Amz-Signature"
    )
    canonical_headers = ""
    for h in signed_headers.split(";"):
        if h == "host":
            value = environ.get("HTTP_HOST", "")
        else:
            value = environ.get("HTTP_" + h.upper().replace("-", "_"), "")
        canonical_headers += f"{h}:{value.strip()}\n"
    payload = q.get("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
    canonical = "\n".join(
        [environ["REQUEST_METHOD"], path, canonical_query, canonical_headers, signed_headers, payload]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + EMULATOR_SECRET).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return (
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )
    return expiry_problem()


def _patch_s3_presign():
    from moto.moto_server import werkzeug_app

    original = werkzeug_app.DomainDispatcherApplication.__call__

    def call(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_orgcert/clock" and environ.get("REQUEST_METHOD") == "POST":
            status, body = _set_clock(environ)
            start_response(status, [("Content-Length", str(len(body)))])
            return [body]
        if "X-Amz-Signature=" in environ.get("QUERY_STRING", "") and environ.get(
            "REQUEST_METHOD"
        ) in ("GET", "HEAD"):
            problem = _presign_problem(environ)
            if problem is not None:
                code, message = problem
                body = (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
                ).encode()
                start_response(
                    "403 Forbidden",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
                )
                return [body]
        return original(self, environ, start_response)

    werkzeug_app.DomainDispatcherApplication.__call__ = call


def _patch_dynamodb():
    import copy
    import threading

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    lock = threading.RLock()
    in_transaction = threading.local()

    class _Copy:
        """moto.dynamodb.models' `copy`, minus the whole-table copy inside a transaction."""

        def __getattr__(self, name):
            return getattr(copy, name)

        def deepcopy(self, obj, memo=None):
            if isinstance(obj, Table) and getattr(in_transaction, "active", False):
                return obj  # the undo log below restores what the transaction touched
            return copy.deepcopy(obj, memo)

    models.copy = _Copy()
    backend = models.DynamoDBBackend

    def touched(self, transact_items):
        out = []
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    attrs = op["Item"]
                    keys = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        keys[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    keys = op["Key"]
                hash_key, range_key = self.get_keys_value(table, keys)
                prior = table.get_item(hash_key, range_key)
                out.append((table, hash_key, range_key, copy.deepcopy(prior)))
            except Exception:  # the transaction itself reports a malformed item
                continue
        return out

    def undo(log):
        for table, hash_key, range_key, prior in reversed(log):
            if table.has_range_key:
                if prior is None:
                    table.items[hash_key].pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = prior
            elif prior is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = prior

    original_transact = backend.transact_write_items

    def transact_write_items(self, transact_items):
        with lock:
            log = touched(self, transact_items)
            in_transaction.active = True
            try:
                return original_transact(self, transact_items)
            except BaseException:
                undo(log)
                raise
            finally:
                in_transaction.active = False

    backend.transact_write_items = transact_write_items

    def locked(method):
        def call(self, *args, **kwargs):
            with lock:
                return method(self, *args, **kwargs)

        return call

    for name in ("get_item", "put_item", "update_item", "delete_item", "query", "scan"):
        setattr(backend, name, locked(getattr(backend, name)))

    import json
    import time

    from moto.dynamodb import exceptions, responses

    tokens = {}  # ClientRequestToken -> (items as JSON, result, valid until)
    original_handler = responses.DynamoHandler.transact_write_items

    def transact_handler(self):
        token = self.body.get("ClientRequestToken")
        if not token:
            return original_handler(self)
        items = json.dumps(self.body.get("TransactItems"), sort_keys=True)
        with lock:
            now = time.time()
            seen = tokens.get(token)
            if seen is not None and now < seen[2]:
                if seen[0] != items:
                    raise exceptions.DynamodbException(
                        exceptions.ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                        "The request uses the same client token as a previous, but non-identical request.",
                    )
                return seen[1]
            result = original_handler(self)
            if len(tokens) > 10000:
                for old in [t for t, v in tokens.items() if v[2] <= now]:
                    del tokens[old]
            tokens[token] = (items, result, now + 600)
            return result

    responses.DynamoHandler.transact_write_items = transact_handler


# Seconds each call of a service waits before moto answers it, and calls so far (7.).
_DELAYS = {}
_CALLS = {"kms": 0, "dynamodb": 0}

# X-Amz-Target prefixes of the JSON-protocol services that can be delayed.
_TARGETS = {"kms": "TrentService.", "dynamodb": "DynamoDB_20120810."}

# Calls by "service:action" and DynamoDB request units since the last reset (8.).
_USAGE = {"calls": {}, "dynamodb_units": {"read": 0.0, "write": 0.0}}


def _service_and_action(environ):
    """The AWS service (from the SigV4 credential scope) and the API action of a request."""
    import re
    from urllib.parse import unquote

    scope = environ.get("HTTP_AUTHORIZATION", "") + " " + unquote(environ.get("QUERY_STRING", ""))
    m = re.search(r"Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request", scope)
    service = m.group(1) if m else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    method = environ.get("REQUEST_METHOD", "GET")
    query = environ.get("QUERY_STRING", "")
    if service == "ses" and environ.get("PATH_INFO", "").startswith("/v2/email/outbound-emails"):
        return "sesv2", "SendEmail"
    if service == "s3":
        if method == "POST" and "delete" in query:
            return service, "DeleteObjects"
        if method == "GET" and "list-type" in query:
            return service, "ListObjectsV2"
        return service, {
            "PUT": "PutObject",
            "GET": "GetObject",
            "HEAD": "HeadObject",
            "DELETE": "DeleteObject",
        }.get(method, method)
    return service, method + " " + environ.get("PATH_INFO", "")


def _units(size, per):
    return max(1, -(-size // per))


def _dynamodb_units(action, request, response):
    """On-demand request units of one DynamoDB call (see 8.; sizes are JSON lengths)."""
    import json

    def size(item):
        return len(json.dumps(item, separators=(",", ":")))

    try:
        req = json.loads(request or b"{}")
        resp = json.loads(response or b"{}")
    except ValueError:
        return 0.0, 0.0
    strong = 1.0 if req.get("ConsistentRead") else 0.5
    if action == "PutItem":
        return 0.0, _units(size(req.get("Item", {})), 1024)
    if action in ("UpdateItem", "DeleteItem"):
        return 0.0, _units(size(req), 1024)
    if action == "TransactWriteItems":
        return 0.0, sum(2 * _units(size(t), 1024) for t in req.get("TransactItems", []))
    if action == "BatchWriteItem":
        return 0.0, sum(
            _units(size(w), 1024) for ws in req.get("RequestItems", {}).values() for w in ws
        )
    if action == "GetItem":
        return strong * _units(size(resp.get("Item", {})), 4096), 0.0
    if action in ("Query", "Scan"):
        return strong * _units(sum(size(i) for i in resp.get("Items", [])), 4096), 0.0
    if action == "BatchGetItem":
        items = [i for its in resp.get("Responses", {}).values() for i in its]
        return sum(strong * _units(size(i), 4096) for i in items), 0.0
    if action == "TransactGetItems":
        return sum(2 * _units(size(r.get("Item", {})), 4096) for r in resp.get("Responses", [])), 0.0
    return 0.0, 0.0


def _patch_delay():
    import time
    from urllib.parse import parse_qs

    from moto.moto_server import werkzeug_app

    original = werkzeug_app.DomainDispatcherApplication.__call__

    def call(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_orgcert/delay" and environ.get("REQUEST_METHOD") == "POST":
            q = parse_qs(environ.get("QUERY_STRING", ""))
            try:
                service = q["service"][0]
                seconds = float(q["seconds"][0])
                if service not in _TARGETS or not 0 <= seconds <= 600:
                    raise ValueError(service)
            except (KeyError, IndexError, ValueError):
                body = b"service=<kms|dynamodb>&seconds=<0..600> expected"
                start_response("400 Bad Request", [("Content-Length", str(len(body)))])
                return [body]
            _DELAYS[service] = seconds
            start_response("204 No Content", [("Content-Length", "0")])
            return [b""]
        if environ.get("PATH_INFO") == "/_orgcert/calls" and environ.get("REQUEST_METHOD") == "GET":
            import json

            body = json.dumps(_CALLS).encode()
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if environ.get("PATH_INFO", "").startswith("/_orgcert/usage"):
            import json

            if environ.get("REQUEST_METHOD") == "POST":
                _USAGE["calls"].clear()
                _USAGE["dynamodb_units"].update(read=0.0, write=0.0)
                body = b""
                start_response("204 No Content", [("Content-Length", "0")])
                return [body]
            body = json.dumps(_USAGE).encode()
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        for service, prefix in _TARGETS.items():
            if target.startswith(prefix):
                _CALLS[service] += 1
                if _DELAYS.get(service, 0) > 0:
                    time.sleep(_DELAYS[service])
        if environ.get("PATH_INFO", "").startswith(("/moto-api", "/_orgcert")):
            # The emulator's own controls (data, clock), not AWS calls.
            return original(self, environ, start_response)
        service, action = _service_and_action(environ)
        key = f"{service}:{action}"
        _USAGE["calls"][key] = _USAGE["calls"].get(key, 0) + 1
        if service != "dynamodb":
            return original(self, environ, start_response)
        import io

        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(request)
        chunks = list(original(self, environ, start_response))
        read, write = _dynamodb_units(action, request, b"".join(chunks))
        _USAGE["dynamodb_units"]["read"] += read
        _USAGE["dynamodb_units"]["write"] += write
        return chunks

    werkzeug_app.DomainDispatcherApplication.__call__ = call


if os.environ.get("ORGCERT_MOTO_PATCHES") == "1":
    try:
        _patch_kms()
        _patch_s3_presign()
        _patch_delay()
        _patch_dynamodb()
    except Exception as e:  # the tests then fail loudly on what is missing
        print(f"orgcert moto patches not applied: {e!r}", file=sys.stderr)
