"""The SMTP door: submission by mail clients that authenticate with a key (AUTH password).

An edge beside the HTTP API: it asks the same gate and the same mail services.
"""

from keyguard.smtp.tasks import MailTasks

__all__ = ["MailTasks"]
