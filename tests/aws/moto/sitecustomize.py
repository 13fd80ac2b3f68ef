"""Test-only patches for moto_server, loaded through PYTHONPATH by tests/src/moto.rs
(only when ORGCERT_MOTO_PATCHES=1). They make the emulator stricter, never laxer:

1. KMS Sign honours MessageType=DIGEST. moto 5.2.5 ignores it and hashes the digest
   again, so a signature over a digest (the KMS signer's path for messages over 4096
   bytes, e.g. large CRLs) would never verify.
2. S3 presigned GETs are checked as S3 checks them: a link past X-Amz-Date +
   X-Amz-Expires is refused, and, for the fixed emulator credentials the tests use, the
   SigV4 query signature is recomputed (RFC-style canonical request, UNSIGNED-PAYLOAD)
   and a mismatch refused. moto checks neither.
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

    def sign(self):
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
    now = datetime.datetime.now(datetime.timezone.utc)
    if now >= signed_at + datetime.timedelta(seconds=expires):
        return ("AccessDenied", "Request has expired")
    if now < signed_at - datetime.timedelta(minutes=15):
        return ("AccessDenied", "Request is not valid yet")
    key_id, _, scope = credential.partition("/")
    if key_id != EMULATOR_KEY_ID:
        return None
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
    return None


def _patch_s3_presign():
    from moto.moto_server import werkzeug_app

    original = werkzeug_app.DomainDispatcherApplication.__call__

    def call(self, environ, start_response):
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


if os.environ.get("ORGCERT_MOTO_PATCHES") == "1":
    try:
        _patch_kms()
        _patch_s3_presign()
    except Exception as e:  # the tests then fail loudly on what is missing
        print(f"orgcert moto patches not applied: {e!r}", file=sys.stderr)
