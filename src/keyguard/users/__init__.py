"""The people who sign in to the dashboard: roles per tenant, factors, sessions.

Public surface::

    UserService(sessions, clock, limits, wrapper, notices=…)   # runtime.users
        .add / .list / .show / .remove / .reset                 # people and their roles
        .setup_user / .setup_password / .passkey_options / .add_passkey   # set-up
        .sign_in_password / .sign_in_recovery / .sign_in_options / .sign_in_passkey
        .reauthenticate_totp / .reauthenticate_passkey
        .web: Sessions                                          # server-side sessions
    SessionView.actor()  → the lifecycle Actor with the role's scopes
    ROLES, Role, role()  → the one roles table (docs/dashboard.md)
"""

from keyguard.users.factors import new_totp_secret, totp_code, totp_uri
from keyguard.users.passkeys import Relying
from keyguard.users.roles import ROLE_NAMES, ROLES, Role, role
from keyguard.users.service import NoticeSink, UserService
from keyguard.users.sessions import Sessions, csrf_of
from keyguard.users.views import Invitation, SessionPolicy, SessionView, UserView

__all__ = [
    "ROLES",
    "ROLE_NAMES",
    "Invitation",
    "NoticeSink",
    "Relying",
    "Role",
    "SessionPolicy",
    "SessionView",
    "Sessions",
    "UserService",
    "UserView",
    "csrf_of",
    "new_totp_secret",
    "role",
    "totp_code",
    "totp_uri",
]
