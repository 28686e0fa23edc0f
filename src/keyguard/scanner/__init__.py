"""Secret scanner: our keys and email/marketing providers' keys in files and git history.

Public surface::

    run_scan(ScanRequest(...)) -> ScanResult     # findings (no secrets) and stats
    default_rules() -> tuple[Rule, ...]          # every rule, in priority order
    Finding                                      # the PRODUCT.md finding schema
"""

from keyguard.scanner.findings import Finding
from keyguard.scanner.providers import default_rules
from keyguard.scanner.rules import Rule
from keyguard.scanner.service import ScanRequest, ScanResult, ScanStats, run_scan

__all__ = [
    "Finding",
    "Rule",
    "ScanRequest",
    "ScanResult",
    "ScanStats",
    "default_rules",
    "run_scan",
]
