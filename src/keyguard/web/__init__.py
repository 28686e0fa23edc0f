"""The dashboard at /ui/: server-rendered pages on the same services as the API.

Public surface::

    mount_dashboard(app, runtime)   # create_app calls it: routes, state, security headers

People sign in (keyguard.users) and act as an Actor with their role's scopes, through the
same services and checks as keys do; docs/dashboard.md has the roles, sessions and headers.
"""

from keyguard.web.app import mount_dashboard

__all__ = ["mount_dashboard"]
