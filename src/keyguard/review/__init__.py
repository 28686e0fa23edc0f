"""Access review: stale, over-privileged, unrestricted and old keys, with proposals that
apply as rotations with grace; and the weekly review digest."""

from keyguard.review.digest import DIGEST_EVERY, ReviewDigest, digest_text
from keyguard.review.findings import (
    CI_USER_AGENT_MARKERS,
    Finding,
    Kind,
    Recommendation,
    ReviewPolicy,
    Severity,
)
from keyguard.review.interfaces import ContactMail, DigestSink, NoDigestSink
from keyguard.review.render import FORMATS, Format, render
from keyguard.review.service import Applied, Review, ReviewService

__all__ = [
    "CI_USER_AGENT_MARKERS",
    "DIGEST_EVERY",
    "FORMATS",
    "Applied",
    "ContactMail",
    "DigestSink",
    "Finding",
    "Format",
    "Kind",
    "NoDigestSink",
    "Recommendation",
    "Review",
    "ReviewDigest",
    "ReviewPolicy",
    "ReviewService",
    "Severity",
    "digest_text",
    "render",
]
