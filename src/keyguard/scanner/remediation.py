"""How to rotate each provider's key: the help that SARIF and the docs show with a finding.

A leaked key is rotated, not just deleted: removing it from the code leaves it valid in
history, forks and caches. Each entry names the provider's own page on managing keys; every
URL was checked against a stored copy of the provider's documentation (none invented).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Final

# Where a deployment publishes Keyguard's docs (docs/scanner.md), e.g. an internal docs site:
# our own rules' help links and SARIF's informationUri point there. Keyguard has no public
# docs site of its own, so without it those links are left out rather than invented.
DOCS_URL_VARIABLE: Final = "KEYGUARD_DOCS_URL"


def scanner_docs() -> str | None:
    """The scanner page of the deployment's docs, or None (read when a report is written)."""
    base = os.environ.get(DOCS_URL_VARIABLE, "").strip()
    if not base.startswith("https://"):
        return None
    return base.rstrip("/") + "/scanner/"


@dataclass(frozen=True, slots=True)
class Remediation:
    """The provider's display name, its key-management page, and where to rotate."""

    name: str
    uri: str | None  # the provider's page; for our own rules, an anchor in the docs (or None)
    where: str

    def text(self) -> str:
        return (
            f"Rotate this {self.name} credential now: {self.where}, create a new one, deploy it "
            "from a secret store, then revoke the leaked one. Removing it from the code is not "
            "enough: it stays in git history, forks and CI caches. Then delete it from the code "
            "(and history, if the repository is public)."
        )

    def markdown(self) -> str:
        if self.uri is None:
            return self.text()
        return f"{self.text()}\n\nDocumentation: [{self.name}]({self.uri})"


_R = Remediation
REMEDIATIONS: Final[dict[str, Remediation]] = {
    "keyguard": _R("Keyguard", "#our-own-keys-and-failed-checksums",
                   "run `keyguard keys rotate ID` (or `keyguard incident open ID --revoke "
                   "--reissue` when it may have been used)"),
    "sendgrid": _R("SendGrid", "https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys",
                   "in Settings > API Keys"),
    "brevo": _R("Brevo", "https://help.brevo.com/hc/en-us/articles/209467485",
                "in SMTP & API > API keys (or SMTP keys)"),
    "mailchimp": _R("Mailchimp", "https://mailchimp.com/help/about-api-keys/",
                    "in Profile > Extras > API keys"),
    "mandrill": _R("Mailchimp Transactional (Mandrill)",
                   "https://mailchimp.com/developer/transactional/docs/fundamentals/",
                   "in Mandrill Settings > SMTP & API Info"),
    "mailersend": _R("MailerSend", "https://www.mailersend.com/help/managing-api-tokens",
                     "in Integrations > API tokens"),
    "resend": _R("Resend", "https://resend.com/docs/dashboard/api-keys/introduction",
                 "in the dashboard's API Keys page"),
    "hubspot": _R("HubSpot", "https://developers.hubspot.com/docs/api/private-apps",
                  "in Settings > Integrations > Private Apps (rotate the access token)"),
    "klaviyo": _R("Klaviyo", "https://developers.klaviyo.com/en/docs/authenticate_",
                  "in Settings > API keys"),
    "kit": _R("Kit (ConvertKit)", "https://developers.kit.com/api-reference/authentication",
              "in Settings > Developer"),
    "mailgun": _R("Mailgun",
                  "https://documentation.mailgun.com/docs/mailgun/user-manual/api-key-mgmt/rbac-mgmt",
                  "in API Security (API keys, sending keys and the webhook signing key)"),
    "postmark": _R("Postmark",
                   "https://postmarkapp.com/support/article/1008-what-are-the-account-and-server-api-tokens",
                   "in the server's API Tokens tab (server tokens) or Account > API Tokens"),
    "sparkpost": _R("SparkPost", "https://developers.sparkpost.com/api/",
                    "in Configuration > API Keys"),
    "elasticemail": _R("Elastic Email",
                       "https://help.elasticemail.com/en/articles/4799160-api-settings",
                       "in Settings > Manage API Keys"),
    "sendpulse": _R("SendPulse", "https://sendpulse.com/knowledge-base/app-directory/api-keys",
                    "in Account settings > API (generating new keys revokes the old ones)"),
    "getresponse": _R("GetResponse", "https://apidocs.getresponse.com/v3/authentication",
                      "in Tools > Integrations and API > API"),
    "constantcontact": _R("Constant Contact",
                          "https://developer.constantcontact.com/api_guide/auth_overview.html",
                          "in the developer portal's My Applications (regenerate the secret)"),
    "mailerlite": _R("MailerLite",
                     "https://developers.mailerlite.com/getting-started",
                     "in Integrations > API"),
    "loops": _R("Loops", "https://loops.so/docs/api", "in Settings > API"),
    "customerio": _R("Customer.io",
                     "https://docs.customer.io/accounts-and-workspaces/managing-credentials",
                     "in Account Settings > API Credentials"),
    "mailjet": _R("Mailjet",
                  "https://documentation.mailjet.com/hc/en-us/articles/360043227053-How-to-reset-my-Secret-Key-",
                  "in My Account > Master API Key & Sub API Key Management (reset the secret key)"),
    "aws": _R("AWS (IAM / SES SMTP)",
              "https://docs.aws.amazon.com/IAM/latest/UserGuide/Using_RotateAccessKey.html",
              "in IAM > Users > Security credentials (create a second access key, switch, "
              "deactivate and delete the old one; SES SMTP passwords derive from it)"),
    "twilio": _R("Twilio", "https://www.twilio.com/docs/iam/api-keys/keys-in-console",
                 "in the Console's API keys & tokens page (or promote the secondary auth token)"),
}  # fmt: skip
GENERIC: Final = _R("secret", "#rules", "at the service that issued it (see the variable's name)")


def remediation(provider: str) -> Remediation:
    found = REMEDIATIONS.get(provider, GENERIC)
    if found.uri is None or not found.uri.startswith("#"):
        return found
    docs = scanner_docs()  # our own rules: an anchor in the deployment's docs, if it has any
    return replace(found, uri=docs + found.uri if docs else None)
