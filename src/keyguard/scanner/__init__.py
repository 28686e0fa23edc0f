"""Secret scanner: our keys and email/marketing providers' keys in files and git history.

Public surface::

    run_scan(ScanRequest(...)) -> ScanResult     # findings (no secrets) and stats
    default_rules() -> tuple[Rule, ...]          # every rule, in priority order
    Finding                                      # the PRODUCT.md finding schema
"""

from keyguard.scanner.baseline import apply_baseline, load_baseline, write_baseline
from keyguard.scanner.check import KeyChecker, checker_from_env
from keyguard.scanner.findings import Finding
from keyguard.scanner.providers import default_rules
from keyguard.scanner.remote import post_findings
from keyguard.scanner.report import RichProgress, render_text, to_json
from keyguard.scanner.report_keys import KeyReporter, reporter_from_env
from keyguard.scanner.rules import Rule
from keyguard.scanner.sarif import files_root, to_sarif
from keyguard.scanner.service import ScanRequest, ScanResult, ScanStats, Source, run_scan
from keyguard.scanner.sources import parse_size

__all__ = [
    "Finding",
    "KeyChecker",
    "KeyReporter",
    "RichProgress",
    "Rule",
    "ScanRequest",
    "ScanResult",
    "ScanStats",
    "Source",
    "apply_baseline",
    "checker_from_env",
    "default_rules",
    "files_root",
    "load_baseline",
    "parse_size",
    "post_findings",
    "render_text",
    "reporter_from_env",
    "run_scan",
    "to_json",
    "to_sarif",
    "write_baseline",
]
