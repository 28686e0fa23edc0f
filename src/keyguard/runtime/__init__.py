"""The composition root: builds engines, peppers, caches and services from Settings."""

from keyguard.runtime.container import Runtime
from keyguard.runtime.heap import freeze_start_up_heap
from keyguard.runtime.housekeeping import housekeeping
from keyguard.runtime.mail import relay_from_settings, submission_tls, worker_config

__all__ = [
    "Runtime",
    "freeze_start_up_heap",
    "housekeeping",
    "relay_from_settings",
    "submission_tls",
    "worker_config",
]
