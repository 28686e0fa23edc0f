"""Every rule the scanner knows, in priority order (an earlier rule wins an overlap).

Formats were checked against the providers' documentation: where a page states a format
(or shows an example key) the rule's `notes` name that page; otherwise the shape is the one
public scanners (gitleaks, Kingfisher, TruffleHog, GitGuardian) use, and `notes` say
"observed". docs/scanner.md has the table of both, with the page for each.
"""

from __future__ import annotations

import base64
import binascii
from functools import cache
from typing import Any, Final

from keyguard.keys import KEY_PATTERN, checksum_valid
from keyguard.scanner.rules import (
    LEFT,
    NEAR,
    RIGHT,
    UUID,
    Rule,
    has_digit_and_letter,
    mixed_classes,
    not_code_reference,
    not_uuid,
    rule,
)

# Base64 secrets need base64 boundaries: `+` and `/` continue a token, `=` only ends one.
B64_LEFT: Final = "(?<![0-9A-Za-z_+/-])"
B64_RIGHT: Final = "(?![0-9A-Za-z_+/=-])"
# Names of values that look random but are not secrets: hashes, digests, ids, commits.
NOT_SECRET_NAMES: Final = (
    "(?i:sha-?(?:1|224|256|384|512)|md5|crc32|digest|hash|fingerprint|checksum|commit"
    "|etag|nonce|salt)"
)
AWS_KEY_ID: Final = "(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"
BASE58: Final = "[1-9A-HJ-NP-Za-km-z]"
# Elastic Email's older keys: a GUID, of either case.
GUID: Final = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
# Twilio documents its SIDs as two letters and [0-9a-fA-F]{32}.
TWILIO_SID_BODY: Final = "[0-9a-fA-F]{32}"


# 0x04: SigV4-derived passwords; 0x02: those derived before 10 January 2019 (SigV2), which
# AWS asks users to delete, so a leaked one may still work.
SES_SMTP_VERSIONS: Final = frozenset({0x02, 0x04})


def _ses_smtp_structure(secret: str) -> bool:
    """An SES SMTP password is base64 of a version byte and an HMAC-SHA256 (33 bytes)."""
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 33 and raw[0] in SES_SMTP_VERSIONS


def _keyguard() -> Rule:
    core = KEY_PATTERN.pattern.replace(r"\b", "")
    return rule(
        "keyguard-api-key",
        "keyguard",
        "Keyguard API key (kg_<env>_…); the CRC32 checksum tells a real key from a look-alike",
        core,
        keywords=("kg_",),
        pattern=f"(?P<secret>{KEY_PATTERN.pattern})",
        checksum=checksum_valid,
        prefixed=True,
        visible_prefix=8,
        notes="A failed checksum is not a key: reported (low) only with --include-invalid.",
    )


def _email_prefixed() -> list[Rule]:
    return [
        rule(
            "sendgrid-api-key",
            "sendgrid",
            "SendGrid API key",
            r"SG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43}",
            keywords=("sg.",),
            prefixed=True,
            visible_prefix=3,
            min_entropy=3.5,
            notes="Documented length: 69 characters "
            "(twilio.com/docs/sendgrid/ui/account-and-settings/api-keys); the split "
            "SG. + 22 + . + 43 is observed in public scanners.",
        ),
        rule(
            "brevo-api-key",
            "brevo",
            "Brevo (Sendinblue) API v3 key",
            "xkeysib-[0-9a-f]{64}-[0-9A-Za-z]{16}",
            keywords=("xkeysib-",),
            prefixed=True,
            visible_prefix=8,
            min_entropy=3.0,
            notes="Not documented by Brevo: xkeysib- + 64 hex + - + 16 alphanumerics is "
            "observed in public scanners (gitleaks, Kingfisher, TruffleHog).",
        ),
        rule(
            "brevo-smtp-key",
            "brevo",
            "Brevo (Sendinblue) SMTP key",
            "xsmtpsib-[0-9a-f]{64}-[0-9A-Za-z]{16}",
            keywords=("xsmtpsib-",),
            prefixed=True,
            visible_prefix=9,
            min_entropy=3.0,
            notes="Not documented: assumed the layout of xkeysib- keys (observed); public "
            "scanners know only xkeysib-.",
        ),
        rule(
            "mailchimp-api-key",
            "mailchimp",
            "Mailchimp Marketing API key (any data centre, -us1 to -us99)",
            "[0-9a-f]{32}-us[1-9][0-9]?",
            keywords=("-us",),
            prefixed=True,
            min_entropy=3.0,
            notes="Not documented by Mailchimp: 32 hex + -usN (the data centre) is observed "
            "in public scanners; one-digit centres (-us1…-us9) exist, which gitleaks misses.",
        ),
        rule(
            "mailersend-api-token",
            "mailersend",
            "MailerSend API token",
            r"mlsn\.[0-9A-Za-z]{30,100}",
            keywords=("mlsn.",),
            prefixed=True,
            visible_prefix=5,
            min_entropy=3.0,
            notes="Not documented: mlsn. + 64 hex is observed; 30-100 characters accepted.",
        ),
        rule(
            "resend-api-key",
            "resend",
            "Resend API key",
            f"re_{BASE58}{{8}}_{BASE58}{{24}}",
            keywords=("re_",),
            prefixed=True,
            visible_prefix=3,
            min_entropy=3.0,
            checks=(has_digit_and_letter,),
            notes="re_ + 8 + _ + 24 as in the example token of "
            "resend.com/docs/api-reference/api-keys/create-api-key; the base58 alphabet "
            "is observed, not documented.",
        ),
        rule(
            "hubspot-private-app-token",
            "hubspot",
            "HubSpot private app access token",
            f"pat-[a-z]{{2}}[0-9]{{1,2}}-{UUID}",
            keywords=("pat-",),
            prefixed=True,
            visible_prefix=8,
            notes="Not documented by HubSpot: pat-<region>-<uuid> is observed (GitGuardian: "
            "any two letters and a digit; TruffleHog and Kingfisher know only na1, eu1).",
        ),
        rule(
            "klaviyo-private-api-key",
            "klaviyo",
            "Klaviyo private API key",
            "pk_(?:[0-9A-Za-z]{6}_[0-9a-f]{34}|[0-9A-Za-z]{34})",
            keywords=("pk_",),
            prefixed=True,
            visible_prefix=3,
            min_entropy=3.0,
            checks=(has_digit_and_letter,),
            notes="pk_ + alphanumerics is documented "
            "(developers.klaviyo.com/en/docs/retrieve_api_credentials); the lengths are "
            "observed: 34, or the newer pk_<6-character company id>_<34 hex> (TruffleHog).",
        ),
        rule(
            "kit-api-key",
            "kit",
            "Kit (ConvertKit) v4 API key",
            "kit_[0-9A-Za-z]{32,64}",
            keywords=("kit_",),
            prefixed=True,
            visible_prefix=4,
            min_entropy=3.0,
            checks=(has_digit_and_letter,),
            notes="Not documented by Kit: the kit_ prefix is shown in third-party guides; "
            "the body length is unknown (32-64 accepted).",
        ),
    ]


def _mailgun() -> list[Rule]:
    shapes = "(?:key-[0-9a-f]{32}|[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}|[0-9a-f]{32})"
    return [
        rule(
            "mailgun-webhook-signing-key",
            "mailgun",
            "Mailgun HTTP webhook signing key",
            f"(?i:mailgun)[\\w.-]{{0,30}}(?i:webhook|signing){NEAR}{shapes}",
            secret=shapes,
            keywords=("mailgun",),
            context_gated=True,
            min_entropy=3.0,
            notes="Not documented: signing keys are observed in the API key shapes, or as "
            "32 hex; context-gated.",
        ),
        rule(
            "mailgun-api-key",
            "mailgun",
            "Mailgun private API key (legacy key- shape)",
            "key-[0-9a-f]{32}",
            keywords=("key-",),
            deny="(?i:cache|md5|digest|hash)",
            prefixed=True,
            visible_prefix=4,
            min_entropy=3.0,
            notes="Not documented: key- + 32 hex is observed in public scanners.",
        ),
        rule(
            "mailgun-api-key-v2",
            "mailgun",
            "Mailgun API or domain sending key (32-8-8 hex shape)",
            "[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8}",
            keywords=(),
            prefixed=True,
            min_entropy=3.0,
            notes="Not documented: the shape of keys created since ~2020, observed in "
            "public scanners (gitleaks, TruffleHog).",
        ),
        rule(
            "mailgun-public-validation-key",
            "mailgun",
            "Mailgun public validation key",
            "pubkey-[0-9a-f]{32}",
            keywords=("pubkey-",),
            prefixed=True,
            visible_prefix=7,
            confidence="low",
            min_entropy=3.0,
            notes="Observed shape (gitleaks); public by design but deprecated; reported low "
            "so it is reviewed.",
        ),
    ]


# A value with no shape of its own is reported only under a name that says "credential".
CRED: Final = "(?i:token|key|secret|pass|auth|credential|client)"
# Lines between a provider's name and the value (an INI section, a nested YAML mapping, a
# Secret's `data:`) never open another section: no `[other]` header and no `other:` mapping
# key other than those that hold secrets.
_BETWEEN: Final = (
    "(?:\\n(?![ \\t]*\\[)(?![ \\t]*"
    "(?!(?i:data|stringdata|env|environment|secrets?|auth|credentials?)[\"']?[ \\t]*:)"
    "[\\w.\\-\"']+[ \\t]*[:=][ \\t]*[{\\[(]?[ \\t]*(?:\\n|$))[^\\n]*)"
)
# On the value's line, names of values that look random but are ids or digests.
CONTEXT_DENY: Final = (
    "(?i:idempotency|request[_-]?id|correlation|trace[_-]?id|message[_-]?id|hash|sha-?[0-9]"
    "|md5|digest|checksum|fingerprint|commit|nonce|salt)"
)
BLOCK_LINES: Final = 4


def _context(
    id: str,
    provider: str,
    description: str,
    keyword: str,
    value: str,
    *,
    keywords: tuple[str, ...] | None = None,
    cred: str = CRED,
    left: str = LEFT,
    right: str = RIGHT,
    window: int = BLOCK_LINES,
    core: str | None = None,
    **options: Any,
) -> Rule:
    """A secret with no distinctive shape: only reported next to the provider's name.

    The name is on the value's line (`POSTMARK_SERVER_TOKEN=…`, `X-Postmark-Server-Token:`)
    or up to `window` lines above it, as an INI section or a YAML parent (`[postmark]` then
    `server_token = …`); either way a credential word names the value itself, so that ids
    (`MessageID`, `delivery_id`) next to a provider's name are not reported. Hyperscan
    watches for the name alone, a literal: cheap, and a superset of the Python pattern.
    """
    same_line = f"[^\\n]{{0,40}}?{cred}"
    # Bounded: on a long generated line a name far from the line's end never opens a block,
    # and the scan of it stays linear in the number of names (no backtracking over the line).
    block = f"[^\\n]{{0,200}}{_BETWEEN}{{0,{window}}}?\\n[^\\n]{{0,40}}?{cred}"
    head = f"(?i:{keyword})(?:{same_line}|{block})" if window else f"(?i:{keyword}){same_line}"
    pattern = f"{head}[^\\n]{{0,30}}?{left}(?P<secret>{value}){right}"
    return Rule(
        id=id,
        provider=provider,
        description=description,
        core=f"(?i:{core or keyword})",
        pattern=pattern,
        keywords=keywords or (keyword.lower(),),
        context_gated=True,
        window=window,
        **{"deny": CONTEXT_DENY, "probe": value, **options},
    )


def _context_rules() -> list[Rule]:
    return [
        _context(
            "postmark-account-token",
            "postmark",
            "Postmark account API token",
            "postmark",
            UUID,
            keywords=("postmark",),
            cred="(?i:account)[\\w.-]{0,10}(?i:token|key)",
            notes="Documented only as a random alphanumeric string "
            "(postmarkapp.com/support/article/1008-what-are-the-account-and-server-api-tokens"
            "); the UUID shape is observed. Needs Postmark and account context.",
        ),
        _context(
            "postmark-server-token",
            "postmark",
            "Postmark server API token",
            "postmark",
            UUID,
            notes="Documented only as a random alphanumeric string; the UUID shape is "
            "observed (TruffleHog, Kingfisher). Needs Postmark context.",
        ),
        _context(
            "mandrill-api-key",
            "mandrill",
            "Mandrill (Mailchimp Transactional) API key",
            "mandrill",
            "(?:md-)?[0-9A-Za-z_-]{22}",
            min_entropy=3.5,
            checks=(has_digit_and_letter,),
            notes="Not documented: 22 characters observed (TruffleHog; Kingfisher 20-24); "
            "newer keys are said to start md- (unconfirmed).",
        ),
        _context(
            "sparkpost-api-key",
            "sparkpost",
            "SparkPost API key",
            "sparkpost",
            "[0-9a-f]{40}",
            min_entropy=3.0,
            notes="40 hex, as the example key of developers.sparkpost.com/api (the format "
            "itself is not stated).",
        ),
        _context(
            "elastic-email-api-key",
            "elasticemail",
            "Elastic Email API key",
            "elastic[ _.-]?email",
            f"(?:[0-9A-Za-z_-]{{96}}|{GUID})",
            keywords=("elastic",),
            min_entropy=3.0,
            notes="96 characters is documented "
            "(help.elasticemail.com/en/articles/4799160-api-settings); older keys are a "
            "GUID (help.elasticemail.com/en/articles/2288319-how-to-configure-smtp-api).",
        ),
        _context(
            "sendpulse-api-secret",
            "sendpulse",
            "SendPulse REST API id or secret",
            "sendpulse",
            "[0-9a-f]{32}",
            min_entropy=3.0,
            notes="32 hex, as the example client_id and client_secret of "
            "sendpulse.com/en/integrations/api; the id alone is not secret.",
        ),
        _context(
            "getresponse-api-key",
            "getresponse",
            "GetResponse API key",
            "getresponse",
            "[0-9a-z]{32}",
            min_entropy=3.0,
            checks=(has_digit_and_letter,),
            notes="Not documented (the example in apidocs.getresponse.com/v3/authentication "
            "is a 22-character placeholder); 32 lower-case alphanumerics are observed.",
        ),
        _context(
            "constant-contact-api-key",
            "constantcontact",
            "Constant Contact API key or client secret",
            "constant[ _.-]?contact|ctct",
            f"(?:{UUID}|[0-9A-Za-z_-]{{22}}|[0-9a-z]{{24}})",
            keywords=("constant", "ctct"),
            min_entropy=3.0,
            checks=(has_digit_and_letter,),
            notes="Not documented: v3 keys (client ids) observed as UUIDs, secrets as 22 "
            "characters, v2 keys as 24.",
        ),
        _context(
            "mailerlite-api-key",
            "mailerlite",
            "MailerLite API token",
            "mailerlite",
            "(?:eyJ[0-9A-Za-z_-]{10,}\\.eyJ[0-9A-Za-z_-]{10,}\\.[0-9A-Za-z_-]{10,}|[0-9a-f]{32})",
            min_entropy=3.0,
            notes="Not documented: new tokens are observed as JWTs, classic keys as 32 hex.",
        ),
        _context(
            "kit-api-secret",
            "kit",
            "Kit (ConvertKit) v3 API key or secret",
            "convertkit|kit[_-]?api",
            "(?:[0-9A-Za-z_-]{43}|[0-9A-Za-z_-]{22})",
            keywords=("convertkit", "kit"),
            min_entropy=3.5,
            checks=(has_digit_and_letter,),
            notes="Not documented: v3 key 22 (TruffleHog, Kingfisher) and secret 43 "
            "characters are observed.",
        ),
        _context(
            "loops-api-key",
            "loops",
            "Loops API key",
            "loops(?:[_.-]?(?:so|api|key|token)|(?![a-z]))",
            "[0-9a-f]{32}",
            keywords=("loops",),
            core="loops",
            min_entropy=3.0,
            notes="32 hex, as the example key of loops.so/docs/api (the format itself is "
            "not stated); gated on loops_api/loops.so context.",
        ),
        _context(
            "customerio-api-key",
            "customerio",
            "Customer.io App or Track API key",
            "customer[_.-]?io|(?-i:(?<![A-Za-z])(?:cio|CIO)(?![a-z]))",
            "(?:[0-9a-f]{32}|[0-9a-f]{20})",
            keywords=("customer", "cio"),
            core="customer[_.-]?io|cio",
            min_entropy=2.5,
            notes="Not documented: App API keys observed as 32 hex, Track API keys and site "
            "ids as 20 hex; a random 20-hex value falls below 3 bits of entropy now and then, "
            "hence 2.5.",
        ),
        _context(
            "hubspot-legacy-api-key",
            "hubspot",
            "HubSpot legacy API key (hapikey)",
            "hubspot|(?=hapikey)",
            UUID,
            keywords=("hubspot", "hapikey"),
            core="hubspot|hapikey",
            confidence="medium",
            notes="Observed as a UUID (TruffleHog); retired by HubSpot in 2022, so a live "
            "one is unlikely but still reported.",
        ),
    ]


def _pairs() -> list[Rule]:
    mailjet = "(?i:mailjet|mj_?apikey)"
    return [
        rule(
            "mailjet-api-credentials",
            "mailjet",
            "Mailjet API key and secret passed together",
            "(?i:mailjet)[^\\n]{0,80}?\\n?[ \\t]*[\"'][0-9a-f]{32}[\"'][ \\t]*,"
            "[ \\t]*\\n?[ \\t]*[\"'][a-f0-9]{32}",
            secret="[a-f0-9]{32}",
            keywords=("mailjet",),
            context_gated=True,
            min_entropy=3.0,
            window=2,
            notes="Not documented: key and secret observed as 32 hex each; two arguments, "
            "on one line or the next (apiConnect).",
        ),
        rule(
            "mailjet-basic-credentials",
            "mailjet",
            "Mailjet API key:secret (curl --user, decoded Basic auth) near Mailjet",
            "[0-9a-f]{32}:[0-9a-f]{32}",
            secret="[0-9a-f]{32}",
            pattern=f"{LEFT}[0-9a-f]{{32}}:(?P<secret>[0-9a-f]{{32}}){RIGHT}",
            keywords=(),
            context_gated=True,
            min_entropy=3.0,
            pair="(?i:mailjet)",
            pair_window=3,
            notes="Not documented: key and secret observed as 32 hex each.",
        ),
        rule(
            "customerio-basic-credentials",
            "customerio",
            "Customer.io Track API site id:API key (curl -u, decoded Basic auth)",
            "[0-9a-f]{20}:[0-9a-f]{20}",
            pattern=f"{LEFT}[0-9a-f]{{20}}:(?P<secret>[0-9a-f]{{20}}){RIGHT}",
            keywords=(),
            context_gated=True,
            min_entropy=2.5,
            pair="(?i:customer[_.-]?io)|(?<![A-Za-z])(?:cio|CIO)(?![a-z])",
            pair_window=3,
            notes="Not documented: site id and Track API key observed as 20 hex each.",
        ),
        rule(
            "mailjet-secret-key",
            "mailjet",
            "Mailjet API secret key with its API key nearby",
            f"{mailjet}[\\w.-]{{0,20}}(?i:secret|private){NEAR}[0-9a-f]{{32}}",
            secret="[0-9a-f]{32}",
            keywords=("mailjet", "mj_apikey", "mjapikey"),
            context_gated=True,
            min_entropy=3.0,
            pair=f"{mailjet}[^\\n]{{0,60}}?(?<![0-9A-Za-z])[0-9a-f]{{32}}(?![0-9A-Za-z])",
            notes="Not documented: key and secret observed as 32 hex each; reported when "
            "both are within 5 lines.",
        ),
        _context(
            "mailjet-secret-key-block",
            "mailjet",
            "Mailjet API secret key under a Mailjet section or Secret",
            "mailjet|mj_?apikey",
            "[0-9a-f]{32}",
            keywords=("mailjet", "mj_apikey", "mjapikey"),
            cred="(?i:secret|private)",
            min_entropy=3.0,
            notes="Observed 32 hex; `[mailjet]` then `api_secret = …`, or a Secret named "
            "mailjet-… with secret-key.",
        ),
        _context(
            "aws-ses-smtp-password",
            "aws",
            "Amazon SES SMTP password (derived from an IAM secret key)",
            "smtp",
            "[AB][0-9A-Za-z+/]{43}",
            left=B64_LEFT,
            right=B64_RIGHT,
            cred="(?i:pass|secret|smtp)",
            window=6,
            checks=(_ses_smtp_structure,),
            notes="Documented derivation (docs.aws.amazon.com/ses/latest/dg/"
            "smtp-credentials.html): base64 of a version byte, 0x04 (0x02 before 2019), and "
            "an HMAC-SHA256; SMTP context on the line or up to 6 lines above.",
        ),
        rule(
            "aws-access-key-id",
            "aws",
            "AWS access key id (also the SES SMTP user name)",
            AWS_KEY_ID,
            keywords=("a3t", "akia", "asia", "abia", "acca"),
            prefixed=True,
            visible_prefix=4,
            confidence="medium",
            notes="The 4-letter prefixes are documented (IAM unique ID prefixes; A3T is "
            "not); the base32 body is observed. An id, not a secret: medium.",
        ),
        rule(
            "aws-secret-access-key",
            "aws",
            "AWS secret access key next to its access key id",
            f"(?i:secret[_-]?access[_-]?key|aws[_-]?secret){NEAR}[0-9A-Za-z/+]{{40}}",
            secret="[0-9A-Za-z/+]{40}",
            left=B64_LEFT,
            right=B64_RIGHT,
            keywords=("secret",),
            context_gated=True,
            min_entropy=4.0,
            checks=(has_digit_and_letter,),
            pair=AWS_KEY_ID,
            notes="Not documented: 40 base64 characters, observed (every public scanner "
            "uses it); reported when an access key id is within 5 lines.",
        ),
        rule(
            "twilio-api-key-sid",
            "twilio",
            "Twilio API key SID (its secret is usually close by)",
            f"SK{TWILIO_SID_BODY}",
            keywords=("sk",),
            prefixed=True,
            visible_prefix=2,
            confidence="medium",
            min_entropy=3.0,
            notes="Documented: ^SK[0-9a-fA-F]{32}$ (twilio.com/docs/iam/api-keys/key-resource-v1).",
        ),
        rule(
            "twilio-credentials-pair",
            "twilio",
            "Twilio auth token or API key secret right after its account SID or API key SID",
            f"(?:AC|SK){TWILIO_SID_BODY}",
            pattern=(
                f"(?:AC|SK){TWILIO_SID_BODY}(?:[\"'`][ \\t]*,[ \\t]*\\n?[ \\t]*[\"'`]|:)"
                f"(?P<secret>[0-9A-Za-z]{{32}}){RIGHT}"
            ),
            keywords=("ac", "sk"),
            window=1,
            context_gated=True,
            min_entropy=3.0,
            checks=(has_digit_and_letter,),
            notes="SIDs as documented (AC or SK + [0-9a-fA-F]{32}); the 32-character secret is "
            'observed. `twilio("AC…", "…")`, `-u AC…:…`: the secret follows its SID.',
        ),
        _context(
            "twilio-auth-token",
            "twilio",
            "Twilio auth token or API key secret",
            "twilio",
            "[0-9A-Za-z]{32}",
            min_entropy=3.0,
            checks=(has_digit_and_letter,),
            notes="Not documented: auth tokens observed as 32 hex, API key secrets as 32 "
            "alphanumerics.",
        ),
    ]


def _generic() -> Rule:
    names = (
        "api[_-]?key|apikey|secret|smtp[_-]?pass(?:word)?|passwd|password"
        "|access[_-]?key|access[_-]?token|auth[_-]?token|private[_-]?key"
    )
    value = "[0-9A-Za-z+/=_.~-]{16,128}"
    name = f"(?i:{names})[\\w.-]{{0,20}}[\"']?[ \\t]*"
    # Python only: the name does not follow `:` or `/` (ARNs, URLs), and a bare `:` must be
    # followed by a space or a quote (`key: v`, `"key":"v"`), not by a value (`secret:Name`).
    assign = "(?::=|=>|=|:(?=[ \\t\"'`]))"
    pattern = f"(?<![:/]){name}{assign}[ \\t]*[\"'`]?{LEFT}(?P<secret>{value}){RIGHT}"
    return rule(
        "generic-high-entropy-secret",
        "generic",
        "High-entropy value assigned to a name like *_API_KEY, *_SMTP_PASSWORD, *_SECRET",
        f"{name}(?::=|=>|=|:)[ \\t]*[\"'`]?{value}",
        secret=value,
        pattern=pattern,
        keywords=("key", "secret", "pass", "token"),
        confidence="low",
        min_entropy=3.5,
        checks=(has_digit_and_letter, not_uuid, not_code_reference, mixed_classes),
        deny=NOT_SECRET_NAMES,
        notes="Lower confidence: any provider; only values with high entropy.",
    )


@cache
def default_rules() -> tuple[Rule, ...]:
    """All rules, in priority order (built once per process, on first use)."""
    return (
        _keyguard(),
        *_email_prefixed(),
        *_mailgun(),
        *_context_rules(),
        *_pairs(),
        _generic(),
    )
