"""What the project adds to moto's S3 (moto 5.2.1 has neither): UpdateObjectEncryption, and SSE-C objects.

A WSGI middleware in front of moto's app. It answers `PUT /{Bucket}/{Key}?encryption` (UpdateObjectEncryption)
itself, by changing the encryption fields of moto's stored object in place: no data is copied, and metadata,
ETag, checksums, storage class and dates stay as they were. Without it, moto stores the XML body as the
object's new content. It also remembers objects written with SSE-C (moto ignores those headers) and answers a
HEAD or GET of one without the customer key with 400, as S3 does.

Sources (the rules below follow them, not moto):
- https://docs.aws.amazon.com/AmazonS3/latest/API/API_UpdateObjectEncryption.html
- https://docs.aws.amazon.com/AmazonS3/latest/userguide/update-sse-encryption.html
- https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html (SSE-C objects need the key headers)
Path-style addressing only (the guard uses it against an emulator).
"""
import os
import re
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote
from xml.etree import ElementTree

from moto.iam.models import get_account_id_from
from moto.kms.models import kms_backends
from moto.s3.models import FakeKey, s3_backends
from moto.s3.exceptions import MissingBucket

S3_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([a-z0-9-]+)/s3/aws4_request")
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):key/([A-Za-z0-9-]+)$")
SSE_C_ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"
SSE_C_KEY_MD5 = "x-amz-server-side-encryption-customer-key-md5"


def _error(start_response, status, code, message):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f'<RequestId>emulator</RequestId></Error>').encode()
    start_response(status, [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _no_body(start_response, status, headers=()):
    start_response(status, [*headers, ("Content-Length", "0")])
    return [b""]


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _child(element, name):
    return next((child for child in element if _local(child.tag) == name), None)


def _account(environ, access_key):
    # The account moto itself would use for this request (moto/core/responses.py get_current_account).
    return os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID") or get_account_id_from(access_key)


def _split_path(environ):
    path = unquote(environ.get("PATH_INFO", ""))
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key


def _find(bucket, key, version_id):
    """The stored object (a FakeKey), or the reason it is absent."""
    if version_id is None:
        current = bucket.keys.get(key)
        return current if isinstance(current, FakeKey) else None
    for candidate in bucket.keys.getlist(key, default=[]):
        if str(candidate.version_id) == str(version_id):
            return candidate if isinstance(candidate, FakeKey) else None
    return None


def _retained(stored):
    """Under an Object Lock retention that has not expired (a retain-until date in the past protects nothing)."""
    if not stored.lock_mode or not stored.lock_until:
        return False
    until = datetime.fromisoformat(str(stored.lock_until).replace("Z", "+00:00"))
    if until.tzinfo is None:
        until = until.replace(tzinfo=timezone.utc)
    return until > datetime.now(timezone.utc)


def update_object_encryption(environ, start_response, account_id, region, bucket_name, key_name):
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    version_id = query.get("versionId", [None])[0]
    try:
        bucket = s3_backends[account_id]["aws"].get_bucket(bucket_name)
    except MissingBucket:
        return _error(start_response, "404 Not Found", "NoSuchBucket", "The specified bucket does not exist")
    # The bucket's owner, not the caller: moto finds another account's bucket for the caller too.
    expected_owner = environ.get("HTTP_X_AMZ_EXPECTED_BUCKET_OWNER")
    if expected_owner and expected_owner != bucket.account_id:
        return _error(start_response, "403 Forbidden", "AccessDenied", "Access Denied")
    if not any(name.startswith("HTTP_X_AMZ_CHECKSUM_") for name in environ) and "HTTP_CONTENT_MD5" not in environ:
        return _error(start_response, "400 Bad Request", "InvalidRequest", "Missing required header for this request: Content-MD5 or x-amz-checksum-*")

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        document = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return _error(start_response, "400 Bad Request", "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
    sse_kms = _child(document, "SSE-KMS") if _local(document.tag) == "ObjectEncryption" else None
    if sse_kms is None:
        return _error(start_response, "400 Bad Request", "InvalidRequest",
                      "Requests that modify an object encryption configuration require a valid new encryption type. Valid values are SSEKMS. "
                      "Modify the request to specify SSE-KMS for the updated encryption type, and then try again.")
    arn_element = _child(sse_kms, "KMSKeyArn")
    key_arn = (arn_element.text or "").strip() if arn_element is not None else ""
    if not key_arn:
        return _error(start_response, "400 Bad Request", "InvalidRequest", "Requests that modify an object's encryption type to SSE-KMS require an AWS KMS key Amazon Resource Name (ARN).")
    parsed_arn = KMS_KEY_ARN.match(key_arn)
    if not parsed_arn:
        return _error(start_response, "400 Bad Request", "InvalidRequest", "Requests that modify an object's encryption type to SSE-KMS require a valid AWS KMS key Amazon Resource Name (ARN).")
    bucket_key_element = _child(sse_kms, "BucketKeyEnabled")
    bucket_key_text = (bucket_key_element.text or "").strip() if bucket_key_element is not None else "false"
    if bucket_key_text not in ("true", "false"):
        return _error(start_response, "400 Bad Request", "InvalidRequest", "The BucketKeyEnabled value isn't valid. Valid values are true or false.")

    stored = _find(bucket, key_name, version_id)
    if stored is None:
        return _error(start_response, "404 Not Found", "NoSuchKey", "The specified key does not exist.")
    if getattr(stored, "sse_customer_algorithm", None) or stored.encryption == "aws:kms:dsse":
        return _error(start_response, "400 Bad Request", "InvalidRequest",
                      "The UpdateObjectEncryption operation doesn't support source objects with the encryption type DSSE-KMS or SSE-C. "
                      "Only source objects encrypted with SSE-S3 or SSE-KMS are supported.")
    if stored.encryption not in ("AES256", "aws:kms"):
        return _error(start_response, "400 Bad Request", "InvalidRequest",
                      "The UpdateObjectEncryption operation doesn't support unencrypted source objects. Only source objects encrypted with SSE-S3 or SSE-KMS are supported.")
    key_region, key_account, key_id = parsed_arn.groups()
    if key_account != bucket.account_id:
        return _error(start_response, "403 Forbidden", "AccessDenied",
                      "The AWS KMS key in the request must be owned by the same account as the bucket. Modify the request to specify a KMS key from the same account, and then try again.")
    if stored.lock_legal_status == "ON" or _retained(stored):
        return _error(start_response, "403 Forbidden", "AccessDenied",
                      "The encryption type for the specified object can't be updated because that object is protected by S3 Object Lock.")
    kms_key = kms_backends[key_account][key_region].keys.get(key_id)
    if kms_key is None:
        return _error(start_response, "400 Bad Request", "KMS.NotFoundException", f"Invalid keyId '{key_arn}'")
    if kms_key.key_state != "Enabled":
        return _error(start_response, "400 Bad Request", "KMS.DisabledException", f"{key_arn} is {kms_key.key_state}.")

    # In place: only the encryption fields of the stored object change.
    stored.encryption = "aws:kms"
    stored.kms_key_id = kms_key.arn
    stored.bucket_key_enabled = "true" if bucket_key_text == "true" else None
    return _no_body(start_response, "200 OK")


class S3ObjectEncryption:
    """WSGI middleware: UpdateObjectEncryption and SSE-C objects in front of moto's app."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        scope = S3_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return self.app(environ, start_response)
        access_key, region = scope.groups()
        bucket_name, key_name = _split_path(environ)
        if not bucket_name or not key_name:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        account_id = _account(environ, access_key)
        if method == "PUT" and "encryption" in query:
            return update_object_encryption(environ, start_response, account_id, region, bucket_name, key_name)
        if method == "PUT" and not query.keys() - {"x-id"} and environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM"):
            return self._put_sse_c(environ, start_response, account_id, bucket_name, key_name)
        if method in ("GET", "HEAD") and not query.keys() - {"versionId", "x-id", "partNumber"}:
            return self._read(environ, start_response, account_id, bucket_name, key_name, query.get("versionId", [None])[0])
        return self.app(environ, start_response)

    def _put_sse_c(self, environ, start_response, account_id, bucket_name, key_name):
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = headers
            return start_response(status, headers, exc_info)

        result = self.app(environ, capture)
        if captured.get("status", "").startswith("200"):
            version = dict((name.lower(), value) for name, value in captured["headers"]).get("x-amz-version-id")
            try:
                stored = _find(s3_backends[account_id]["aws"].get_bucket(bucket_name), key_name, version)
            except MissingBucket:
                stored = None
            if stored is not None:
                # S3 encrypts with the customer's key only; no SSE-S3 or KMS header applies to the object.
                stored.sse_customer_algorithm = environ["HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM"]
                stored.sse_customer_key_md5 = environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_KEY_MD5", "")
                stored.encryption = None
                stored.kms_key_id = None
                stored.bucket_key_enabled = None
        return result

    def _read(self, environ, start_response, account_id, bucket_name, key_name, version_id):
        try:
            stored = _find(s3_backends[account_id]["aws"].get_bucket(bucket_name), key_name, version_id)
        except (MissingBucket, KeyError):
            stored = None
        algorithm = getattr(stored, "sse_customer_algorithm", None)
        if not algorithm:
            return self.app(environ, start_response)
        given_md5 = environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_KEY_MD5")
        if not environ.get("HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM") or given_md5 != stored.sse_customer_key_md5:
            # S3: 400 Bad Request when an SSE-C object is read without (or with the wrong) customer key.
            if environ.get("REQUEST_METHOD") == "HEAD":
                return _no_body(start_response, "400 Bad Request")
            return _error(start_response, "400 Bad Request", "InvalidRequest", "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.")

        def with_sse_c(status, headers, exc_info=None):
            return start_response(status, [*headers, (SSE_C_ALGORITHM, algorithm), (SSE_C_KEY_MD5, stored.sse_customer_key_md5)], exc_info)

        return self.app(environ, with_sse_c)
