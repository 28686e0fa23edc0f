"""Score the detection engine on a labelled trace (bench/monitor_trace.py).

    python bench/monitor_score.py DIR [--generate] [--seed 7] [--days 21] [--scale 1.0]

Generates the trace into DIR when asked (or when it is missing), replays it through the real
command, `keyguard monitor replay DIR/events.jsonl --out DIR/alerts.jsonl`, in a child
process, and reports:

  - compromises detected within 5 minutes of their first malicious request (goal >= 95 %);
    any alert about the compromised key (or, for key-less attacks, about their sources)
    between that request and an hour after the last one counts;
  - false alerts (every alert that matches no compromise, all severities) per 1,000 active
    key-days (a key with at least one successful request on a day; goal <= 1), with what
    legitimate change each one fell into;
  - replay throughput (the command's own events/s, from JSONL) and the child's max RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DETECT_WITHIN = 300.0
AFTER = 3600.0  # an alert up to an hour after the attack's last request still belongs to it


def parse_ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def generate(out: Path, seed: int, days: int, scale: float, tenants: int) -> None:
    command = [sys.executable, str(HERE / "monitor_trace.py"), "--out", str(out), "--seed",
               str(seed), "--days", str(days), "--scale", str(scale),
               "--tenants", str(tenants)]  # fmt: skip
    subprocess.run(command, check=True)


def replay(events: Path, alerts: Path) -> dict[str, Any]:
    """Run the command in a child; its wall time, max RSS and the summary it printed."""
    command = [sys.executable, "-m", "keyguard", "monitor", "replay", str(events), "--out",
               str(alerts)]  # fmt: skip
    started = time.perf_counter()
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as child:
        _, status, usage = os.wait4(child.pid, 0)
        stderr = child.stderr.read() if child.stderr else ""
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"replay failed ({child.returncode}): {stderr.strip()}")
    rate = re.search(r"\(([\d,]+) events/s\)", stderr)
    return {
        "wall_s": round(wall, 2),
        "max_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "events_per_s": int(rate.group(1).replace(",", "")) if rate else None,
        "summary": stderr.strip(),
    }


def _matches(compromise: dict[str, Any], alert: dict[str, Any], ts: float) -> bool:
    if not compromise["start"] - 1 <= ts <= compromise["end"] + AFTER:  # ts are in ms
        return False
    if compromise["key_id"] is not None:
        return bool(alert["key_id"] == compromise["key_id"])
    if alert["key_id"] is not None:
        return False
    sources = compromise["sources"]
    return sources == ["many"] or alert["evidence"].get("ip") in sources


def score(labels: dict[str, Any], alerts: list[dict[str, Any]]) -> dict[str, Any]:
    times = [parse_ts(a["ts"]) for a in alerts]
    matched = [False] * len(alerts)
    per_kind: dict[str, list[float | None]] = defaultdict(list)
    missed = []
    for c in labels["compromises"]:
        first = None
        for i, alert in enumerate(alerts):
            if _matches(c, alert, times[i]):
                matched[i] = True
                first = times[i] if first is None else min(first, times[i])
        latency = None if first is None else max(0.0, first - c["start"])
        per_kind[c["kind"]].append(latency)
        if latency is None or latency > DETECT_WITHIN:
            missed.append({"kind": c["kind"], "key_id": c["key_id"], "latency_s": latency})
    total = len(labels["compromises"])
    detected = sum(1 for v in per_kind.values() for x in v if x is not None and x <= DETECT_WITHIN)

    false = [(a, times[i]) for i, a in enumerate(alerts) if not matched[i]]
    kinds = labels["keys"]
    during: Counter[str] = Counter()
    allowed = 0
    seen_allowed: set[tuple[str, str]] = set()
    details = []
    for alert, ts in false:
        label = _legit_context(labels["legit"], alert, ts)
        kind = label["kind"] if label else "-"
        during[kind] += 1
        if label and _allowed(label, alert, seen_allowed):
            allowed += 1
        details.append({"rule": alert["rule"], "severity": alert["severity"],
                        "key_kind": kinds.get(alert["key_id"] or "", "-"), "during": kind,
                        "ts": alert["ts"],
                        "summary": alert["evidence"].get("summary")})  # fmt: skip
    key_days = labels["active_key_days"]
    return {
        "compromises": total,
        "detected_within_5_min": detected,
        "detection_rate": round(detected / total, 4) if total else None,
        "by_kind": {
            kind: {
                "n": len(v),
                "within_5_min": sum(1 for x in v if x is not None and x <= 300),
                "worst_latency_s": max((x for x in v if x is not None), default=None),
            }
            for kind, v in sorted(per_kind.items())
        },
        "missed": missed,
        "alerts": len(alerts),
        "false_alerts": len(false),
        "false_alerts_allowed_by_the_issue": allowed,
        "active_key_days": key_days,
        "false_per_1000_key_days": round(1000 * len(false) / key_days, 3),
        "false_by_rule": dict(Counter(d["rule"] for d in details).most_common()),
        "false_by_severity": dict(Counter(d["severity"] for d in details).most_common()),
        "false_during": dict(during.most_common()),
        "false_examples": details[:25],
    }


def _legit_context(legit: list[dict[str, Any]], alert: dict[str, Any], ts: float) -> Any:
    """The legitimate change this alert fell into, if any (the narrowest one)."""
    fits = [label for label in legit if label["key_id"] == alert["key_id"]
            and label["start"] - AFTER <= ts <= label["end"] + 86400]  # fmt: skip
    return min(fits, key=lambda label: label["end"] - label["start"], default=None)


def _allowed(label: dict[str, Any], alert: dict[str, Any], seen: set[tuple[str, str]]) -> bool:
    """The issue allows a traveller at most low, and a cron with a deleted key one alert."""
    if label.get("allowed") == "low":
        return alert["severity"] in ("info", "low")
    if label.get("allowed") == "one":
        slot = (label["kind"], str(alert["key_id"]))
        first = slot not in seen
        seen.add(slot)
        return first
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--tenants", type=int, default=80)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--json", action="store_true", help="print the whole report as JSON")
    args = parser.parse_args()
    events, alerts_file = args.dir / "events.jsonl", args.dir / "alerts.jsonl"
    if args.generate or not events.exists():
        generate(args.dir, args.seed, args.days, args.scale, args.tenants)
    run = replay(events, alerts_file)
    labels = json.loads((args.dir / "labels.json").read_text())
    alerts = [json.loads(line) for line in alerts_file.read_text().splitlines()]
    report = {"replay": run, "events": labels["events"], "keys": len(labels["keys"]),
              **score(labels, alerts)}  # fmt: skip
    if args.json:
        print(json.dumps(report, indent=1))
        return
    _print(report)


def _print(r: dict[str, Any]) -> None:
    run = r["replay"]
    print(f"trace: {r['events']} events, {r['keys']} keys, {r['active_key_days']} active key-days")
    print(f"replay: {run['events_per_s']:,} events/s (the command's own figure), "
          f"wall {run['wall_s']} s with start-up, max RSS {run['max_rss_mb']} MB")  # fmt: skip
    print(f"compromises detected within 5 min: {r['detected_within_5_min']}/{r['compromises']}"
          f" = {100 * (r['detection_rate'] or 0):.1f} %  (goal >= 95 %)")  # fmt: skip
    for kind, v in r["by_kind"].items():
        print(f"  {kind:<34} {v['within_5_min']}/{v['n']}  worst {v['worst_latency_s']}")
    print(f"false alerts: {r['false_alerts']} of {r['alerts']} = "
          f"{r['false_per_1000_key_days']} per 1,000 active key-days  (goal <= 1; "
          f"{r['false_alerts_allowed_by_the_issue']} of them allowed by the issue: "
          "a traveller's low, a deleted key's cron's one)")  # fmt: skip
    print(f"  by rule: {r['false_by_rule']}")
    print(f"  by severity: {r['false_by_severity']}")
    print(f"  during: {r['false_during']}")
    for d in r["false_examples"][:12]:
        print(f"    {d['ts']} {d['rule']} {d['severity']} [{d['key_kind']}, {d['during']}] "
              f"{d['summary']}")  # fmt: skip
    for m in r["missed"]:
        print(f"  missed or late: {m}")


if __name__ == "__main__":
    main()
