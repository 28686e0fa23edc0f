"""Errors of incidents and leak intake, within the one tree of keyguard.errors::

IllegalTransition
└── IncidentClosed       incident_closed: a resolved incident takes no more changes
AuthenticationFailed
└── BadSignature         invalid_signature: a leak report whose signature does not hold
"""

from __future__ import annotations

from keyguard.errors import AuthenticationFailed, IllegalTransition


class IncidentClosed(IllegalTransition):
    default_code = "incident_closed"


class BadSignature(AuthenticationFailed):
    default_code = "invalid_signature"
