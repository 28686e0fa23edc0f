"""Test vectors, assembled at test time: a prefix plus a body drawn from a seeded RNG.

Nothing here is a key: every body is generated when the tests run, so the repository
holds no live-looking secret, and the scanner run over this repository finds nothing in it.
"""

from __future__ import annotations

import base64
import random
import string
from dataclasses import dataclass

from keyguard.keys import generate_key

B62 = string.ascii_letters + string.digits
B64URL = B62 + "_-"
HEX = "0123456789abcdef"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Vector:
    """`text` holds a secret that `rule` must report (or, for negatives, must not)."""

    label: str
    rule: str
    text: str
    path: str = "app/settings.py"


class Maker:
    """Random bodies from a seeded generator, so a failure is reproducible."""

    def __init__(self, seed: int = 5) -> None:
        self.rng = random.Random(seed)

    def body(self, n: int, alphabet: str = B62) -> str:
        while True:
            text = "".join(self.rng.choice(alphabet) for _ in range(n))
            mixed = any(c.isdigit() for c in text) and any(c.isalpha() for c in text)
            if mixed or alphabet.isdigit():
                return text

    def uuid(self) -> str:
        return "-".join(self.body(n, HEX) for n in (8, 4, 4, 4, 12))

    def sendgrid(self) -> str:
        return f"SG.{self.body(22, B64URL)}.{self.body(43, B64URL)}"

    def ses_password(self, version: int = 4) -> str:
        raw = bytes([version]) + bytes(self.rng.randrange(256) for _ in range(32))
        return base64.b64encode(raw).decode()

    def jwt(self) -> str:
        return f"eyJ{self.body(30, B64URL)}.eyJ{self.body(40, B64URL)}.{self.body(43, B64URL)}"


def positives(m: Maker) -> list[Vector]:
    """One or more vectors per rule; the expected rule must be reported for each."""
    aws_id = "AKIA" + m.body(16, BASE32)
    vectors = [
        Vector("keyguard live", "keyguard-api-key", f'KEY = "{generate_key("live").reveal()}"'),
        Vector("keyguard test", "keyguard-api-key", f"key: {generate_key('test').reveal()}"),
        Vector("keyguard dev", "keyguard-api-key", f"export K={generate_key('dev').reveal()}"),
        Vector("sendgrid", "sendgrid-api-key", f'SENDGRID_API_KEY = "{m.sendgrid()}"'),
        Vector("brevo api", "brevo-api-key", f'key = "xkeysib-{m.body(64, HEX)}-{m.body(16)}"'),
        Vector("brevo smtp", "brevo-smtp-key", f"pass: xsmtpsib-{m.body(64, HEX)}-{m.body(16)}"),
        Vector("mailersend", "mailersend-api-token", f'T = "mlsn.{m.body(64, HEX)}"'),
        Vector("resend", "resend-api-key", f'R = "re_{m.body(8, BASE58)}_{m.body(24, BASE58)}"'),
        Vector("hubspot pat", "hubspot-private-app-token", f'H = "pat-eu1-{m.uuid()}"'),
        Vector("klaviyo", "klaviyo-private-api-key", f'K = "pk_{m.body(34, HEX)}"'),
        Vector(
            "klaviyo company id form",
            "klaviyo-private-api-key",
            f'K = "pk_{m.body(6)}_{m.body(34, HEX)}"',
        ),
        Vector("kit v4", "kit-api-key", f'KIT = "kit_{m.body(32, HEX)}"'),
        Vector(
            "mailgun webhook",
            "mailgun-webhook-signing-key",
            f'MAILGUN_WEBHOOK_SIGNING_KEY = "{m.body(32, HEX)}"',
        ),
        Vector("mailgun key-", "mailgun-api-key", f'MG = "key-{m.body(32, HEX)}"'),
        Vector(
            "mailgun v2",
            "mailgun-api-key-v2",
            f'MG = "{m.body(32, HEX)}-{m.body(8, HEX)}-{m.body(8, HEX)}"',
        ),
        Vector(
            "mailgun pubkey", "mailgun-public-validation-key", f'P = "pubkey-{m.body(32, HEX)}"'
        ),
        Vector(
            "postmark account", "postmark-account-token", f'POSTMARK_ACCOUNT_TOKEN = "{m.uuid()}"'
        ),
        Vector(
            "postmark server header",
            "postmark-server-token",
            f"X-Postmark-Server-Token: {m.uuid()}",
        ),
        Vector("mandrill", "mandrill-api-key", f'MANDRILL_API_KEY = "{m.body(22)}"'),
        Vector("sparkpost", "sparkpost-api-key", f'SPARKPOST_API_KEY = "{m.body(40, HEX)}"'),
        Vector(
            "elastic email",
            "elastic-email-api-key",
            f'ELASTICEMAIL_API_KEY = "{m.body(96, HEX).upper()}"',
        ),
        Vector(
            "elastic email legacy guid",
            "elastic-email-api-key",
            f'ELASTICEMAIL_API_KEY = "{m.uuid().upper()}"',
        ),
        Vector("sendpulse", "sendpulse-api-secret", f'SENDPULSE_SECRET = "{m.body(32, HEX)}"'),
        Vector(
            "getresponse",
            "getresponse-api-key",
            f'GETRESPONSE_API_KEY = "{m.body(32, HEX + "ghijklmnopqrstuvwxyz")}"',
        ),
        Vector(
            "constant contact", "constant-contact-api-key", f'CONSTANT_CONTACT_KEY = "{m.uuid()}"'
        ),
        Vector("mailerlite jwt", "mailerlite-api-key", f'MAILERLITE_API_KEY = "{m.jwt()}"'),
        Vector(
            "kit v3 secret", "kit-api-secret", f'CONVERTKIT_API_SECRET = "{m.body(43, B64URL)}"'
        ),
        Vector("loops", "loops-api-key", f'LOOPS_API_KEY = "{m.body(32, HEX)}"'),
        Vector("customer.io", "customerio-api-key", f'CUSTOMERIO_APP_KEY = "{m.body(32, HEX)}"'),
        Vector("hubspot legacy", "hubspot-legacy-api-key", f"hapikey={m.uuid()}"),
        Vector(
            "mailjet inline pair",
            "mailjet-api-credentials",
            f'mailjet = Client(auth=("{m.body(32, HEX)}", "{m.body(32, HEX)}"))',
        ),
        Vector(
            "mailjet env pair",
            "mailjet-secret-key",
            f"MJ_APIKEY_PUBLIC={m.body(32, HEX)}\nMJ_APIKEY_PRIVATE={m.body(32, HEX)}",
            path=".env",
        ),
        Vector("ses smtp", "aws-ses-smtp-password", f'EMAIL_SMTP_PASSWORD = "{m.ses_password()}"'),
        Vector(
            "ses smtp before 2019",
            "aws-ses-smtp-password",
            f'SMTP_PASSWORD = "{m.ses_password(2)}"',
        ),
        Vector("aws id", "aws-access-key-id", f"aws_access_key_id = {aws_id}"),
        Vector(
            "aws pair",
            "aws-secret-access-key",
            f"aws_access_key_id = {aws_id}\naws_secret_access_key = {m.body(40, B62 + '+/')}",
            path="credentials",
        ),
        Vector("twilio sid", "twilio-api-key-sid", f'SID = "SK{m.body(32, HEX)}"'),
        Vector(
            "twilio sid upper-case hex",
            "twilio-api-key-sid",
            f'SID = "SK{m.body(32, HEX).upper()}"',
        ),
        Vector("twilio token", "twilio-auth-token", f'TWILIO_AUTH_TOKEN = "{m.body(32, HEX)}"'),
        Vector(
            "generic api key", "generic-high-entropy-secret", f'PAYMENTS_API_KEY = "{m.body(28)}"'
        ),
        Vector(
            "generic env", "generic-high-entropy-secret", f"APP_SECRET={m.body(30)}", path=".env"
        ),
        Vector(
            "generic smtp",
            "generic-high-entropy-secret",
            f'mail:\n  smtp_password: "{m.body(24)}"',
            path="config.yaml",
        ),
    ]
    vectors += context_positives(m)
    vectors += [
        Vector(f"mailchimp -us{dc}", "mailchimp-api-key", f'MC = "{m.body(32, HEX)}-us{dc}"')
        for dc in (*range(1, 10), 10, 21, 99)
    ]
    return vectors


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def context_positives(m: Maker) -> list[Vector]:
    """One vector per class of issue 16: context-dependent, split, encoded, prose."""
    token, hex20, hex32, ses = m.uuid(), m.body(20, HEX), m.body(32, HEX), m.ses_password()
    filler = ";".join(f"function f{i}(e,t){{return e+t*{i}}}" for i in range(80))
    notebook = '{"source": ["import requests\\n", "POSTMARK_TOKEN = \\"' + token + '\\"\\n"]}'
    return [
        Vector("ini section", "postmark-server-token", f"[postmark]\nserver_token = {token}",
               path="config/app.ini"),
        Vector("nested yaml", "postmark-account-token",
               f"email:\n  postmark:\n    account_token: {token}\n", path="settings.yaml"),
        Vector("k8s secret base64", "customerio-api-key",
               f"kind: Secret\ndata:\n  CUSTOMERIO_APP_KEY: {b64(hex32)}\n", path="secret.yaml"),
        Vector("minified js", "postmark-server-token",
               f'!function(){{{filler};var c={{postmarkServerToken:"{token}"}}}}();',
               path="static/app.min.js"),
        Vector("notebook json", "postmark-server-token", notebook, path="analysis.ipynb"),
        Vector("curl continuation", "mailjet-basic-credentials",
               f'curl -s --user "{hex32}:{m.body(32, HEX)}" \\\n  https://api.mailjet.com/v3.1/send',
               path="smoke.sh"),
        Vector("basic auth in code", "customerio-basic-credentials",
               f'CIO_AUTH = "Basic " + "{b64(hex20 + ":" + m.body(20, HEX))}"'),
        Vector("ses smtp block", "aws-ses-smtp-password",
               f'EMAIL_HOST = "email-smtp.eu-west-1.amazonaws.com"\nEMAIL_PORT = 587\n'
               f'EMAIL_HOST_PASSWORD = "{m.ses_password()}"'),
        Vector("split call arguments", "twilio-credentials-pair",
               f'client = twilio(\n  "AC{m.body(32, HEX)}",\n  "{m.body(32, HEX)}",\n)',
               path="sms.ts"),
        Vector("mailjet section", "mailjet-secret-key-block",
               f"[mailjet]\napi_secret = {m.body(32, HEX)}", path="app.ini"),
        Vector("json nested object", "loops-api-key",
               f'{{"loops": {{\n  "apiKey": "{hex32}"\n}}}}', path="providers.json"),
        Vector("ses across a nested auth block", "aws-ses-smtp-password",
               f'host: "email-smtp.us-west-2.amazonaws.com",\nauth: {{\n  user: "x",\n'
               f'  pass: "{ses[:10]}xXxx{ses[14:]}",\n}}', path="mail.js"),
        Vector("markdown prose", "postmark-server-token",
               f"Staging uses the Postmark\nserver token `{token}` for now.", path="README.md"),
    ]  # fmt: skip


def negatives(m: Maker) -> list[Vector]:
    """Look-alikes: the named rule must NOT be reported (other rules may be)."""
    return [
        Vector("sendgrid xxxx", "sendgrid-api-key", f'KEY = "SG.{"x" * 22}.{"x" * 43}"'),
        Vector(
            "sendgrid EXAMPLE", "sendgrid-api-key", f'KEY = "SG.EXAMPLE{m.body(15)}.{m.body(43)}"'
        ),
        Vector(
            "sendgrid your_", "sendgrid-api-key", f'KEY = "SG.your_api_key_here_0.{m.body(43)}"'
        ),
        Vector("sendgrid env ref", "sendgrid-api-key", 'KEY = os.environ["SENDGRID_API_KEY"]'),
        Vector("sendgrid template", "sendgrid-api-key", 'SENDGRID_API_KEY = "${SENDGRID_API_KEY}"'),
        Vector("sendgrid angle", "sendgrid-api-key", "SENDGRID_API_KEY=<your-sendgrid-key>"),
        Vector("sendgrid short", "sendgrid-api-key", f'KEY = "SG.{m.body(21)}.{m.body(43)}"'),
        Vector("mailchimp -us100", "mailchimp-api-key", f'MC = "{m.body(32, HEX)}-us100"'),
        Vector("mailchimp -us0", "mailchimp-api-key", f'MC = "{m.body(32, HEX)}-us0"'),
        Vector("mailchimp 31 hex", "mailchimp-api-key", f'MC = "{m.body(31, HEX)}-us5"'),
        Vector("brevo short", "brevo-smtp-key", f"xsmtpsib-{m.body(63, HEX)}-{m.body(16)}"),
        Vector("postmark no context", "postmark-server-token", f'request_id = "{m.uuid()}"'),
        Vector("uuid generic", "generic-high-entropy-secret", f'API_KEY = "{m.uuid()}"'),
        Vector("postmark other line", "postmark-server-token", f"# postmark\nid = '{m.uuid()}'"),
        Vector("mailjet alone", "mailjet-secret-key", f"MJ_APIKEY_PRIVATE={m.body(32, HEX)}"),
        Vector(
            "aws secret alone", "aws-secret-access-key", f"aws_secret_access_key = {m.body(40)}"
        ),
        Vector("ses no context", "aws-ses-smtp-password", f'blob = "{m.ses_password()}"'),
        Vector(
            "ses wrong version", "aws-ses-smtp-password", f'SMTP_PASSWORD = "{m.ses_password(5)}"'
        ),
        Vector(
            "ses unknown version", "aws-ses-smtp-password", f'SMTP_PASSWORD = "{m.ses_password(3)}"'
        ),
        Vector("keyguard short", "keyguard-api-key", f'K = "kg_live_{m.body(30)}"'),
        Vector(
            "keyguard allow",
            "keyguard-api-key",
            f'K = "{generate_key("live").reveal()}"  # keyguard:allow',
        ),
        Vector(
            "generic low entropy", "generic-high-entropy-secret", 'API_KEY = "aaaaaaaabbbbbbbb11"'
        ),
        Vector(
            "generic words",
            "generic-high-entropy-secret",
            'SECRET_KEY = "django-insecure-changeme"',
        ),
        Vector(
            "generic sequence", "generic-high-entropy-secret", 'API_KEY = "abcdef0123456789XyZ"'
        ),
        Vector(
            "lock integrity",
            "generic-high-entropy-secret",
            f'"integrity": "sha512-{m.body(86, B62 + "+/")}=="',
            path="package-lock.json",
        ),
        Vector(
            "minified generic",
            "generic-high-entropy-secret",
            f'var c={{apiKey:"{m.body(30)}"}};',
            path="static/app.min.js",
        ),
        Vector("klaviyo stripe-like", "klaviyo-private-api-key", f"pk_live_{m.body(24)}"),
        Vector("postmark message id", "postmark-server-token",
               f'postmark_response = {{"MessageID": "{m.uuid()}", "ErrorCode": 0}}'),
        Vector("postmark id in section", "postmark-server-token",
               f"[postmark]\nwebhook_id = {m.uuid()}", path="app.ini"),
        Vector("customerio delivery id", "customerio-api-key",
               f'CUSTOMERIO_DELIVERY_ID = "{m.body(20, HEX)}"'),
        Vector("hash under a key name", "generic-high-entropy-secret",
               f'API_KEY_SHA256 = "{m.body(64, HEX)}"'),
        Vector("mailgun-like cache key", "mailgun-api-key",
               f'cache_key = "key-{m.body(32, HEX)}"  # md5 of the url'),
        Vector("klaviyo wrong length", "klaviyo-private-api-key", f'K = "pk_{m.body(30, HEX)}"'),
        Vector("klaviyo company id form, short", "klaviyo-private-api-key",
               f'K = "pk_{m.body(6)}_{m.body(33, HEX)}"'),
        Vector("idempotency key next to postmark", "postmark-server-token",
               f'-H "X-Postmark-Server-Token: $TOKEN" \\\n  -H "Idempotency-Key: {m.uuid()}"',
               path="send.sh"),
        Vector("hash under a provider section", "customerio-api-key",
               f"customerio:\n  segment_key_hash: {m.body(32, HEX)}\n", path="config.yaml"),
        Vector("next section's value", "mailerlite-api-key",
               f'{{"mailerlite": {{"region": "eu"}},\n "other": {{\n'
               f'  "apiKey": "{m.body(32, HEX)}"}}}}',
               path="providers.json"),
    ]  # fmt: skip
