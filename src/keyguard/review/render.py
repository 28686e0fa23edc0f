"""A review as text (terminals), Markdown (tickets, digests) or JSON (machines)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Final, Literal

from keyguard.review.findings import Finding
from keyguard.review.service import Review

Format = Literal["text", "json", "md"]
FORMATS: Final = ("text", "json", "md")


def render(review: Review, fmt: Format) -> str:
    if fmt == "json":
        return json.dumps(review.to_json(), indent=2, sort_keys=True) + "\n"
    if fmt == "md":
        return markdown(review)
    return text(review)


def headline(review: Review) -> str:
    counts: Counter[str] = Counter(f.severity for f in review.findings)
    parts = [f"{counts[s]} {s}" for s in ("high", "medium", "low") if counts[s]]
    found = ", ".join(parts) if parts else "nothing to report"
    return (
        f"{len(review.findings)} finding(s) on {review.keys_reviewed} active key(s) "
        f"of {', '.join(review.tenants) or 'no tenant'} ({found}); window "
        f"{review.window_days} days"
    )


def text(review: Review) -> str:
    lines = [headline(review), ""]
    for f in review.findings:
        name = f" ({f.key_name})" if f.key_name else ""
        lines.append(f"[{f.severity}] {f.id}  {f.key_id}{name} {f.env}  {f.kind}")
        lines.append(f"    {f.summary}")
        lines.append(f"    evidence: {json.dumps(f.evidence, sort_keys=True)}")
        lines.append(f"    recommendation: {f.recommendation.text}{_how(f)}")
    return "\n".join(lines).rstrip() + "\n"


def markdown(review: Review) -> str:
    lines = [
        "# Access review",
        "",
        headline(review) + ".",
        "",
    ]
    if not review.findings:
        return "\n".join(lines)
    lines += [
        "| severity | finding | key | kind | evidence | recommendation |",
        "|---|---|---|---|---|---|",
    ]
    for f in review.findings:
        name = f" ({_cell(f.key_name)})" if f.key_name else ""
        lines.append(
            f"| {f.severity} | `{f.id}` | `{f.key_id}`{name} {f.env} | {f.kind} | "
            f"{_cell(f.summary)} | {_cell(f.recommendation.text)}{_how(f)} |"
        )
    return "\n".join(lines) + "\n"


def _how(finding: Finding) -> str:
    if finding.recommendation.action == "none":
        return ""
    flag = " --yes" if finding.recommendation.action == "revoke" else ""
    return f" (`keyguard review apply {finding.id}{flag}`)"


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")
