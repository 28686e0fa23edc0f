"""The composition root: builds engines, peppers, caches and services from Settings."""

from keyguard.runtime.container import Runtime
from keyguard.runtime.housekeeping import housekeeping
from keyguard.runtime.mail import relay_from_settings, submission_tls, worker_config

__all__ = ["Runtime", "housekeeping", "relay_from_settings", "submission_tls", "worker_config"]
