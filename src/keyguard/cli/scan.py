"""`keyguard scan`: find leaked keys in files, git history, staged changes or stdin.

Exit codes are part of the product (PRODUCT.md): 0 no findings, 1 findings, 2 error.
Every error, ours or not, becomes one line on stderr and exit 2: a scan that breaks
must never look like a clean scan, and must never print a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console

from keyguard.errors import InvalidInput, KeyguardError
from keyguard.scanner import (
    KeyChecker,
    KeyReporter,
    RichProgress,
    ScanRequest,
    ScanResult,
    Source,
    apply_baseline,
    checker_from_env,
    default_rules,
    files_root,
    load_baseline,
    parse_size,
    post_findings,
    render_text,
    reporter_from_env,
    run_scan,
    to_json,
    to_sarif,
    write_baseline,
)

EXIT_CLEAN: Final = 0
EXIT_FINDINGS: Final = 1
EXIT_ERROR: Final = 2


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


class EngineChoice(StrEnum):
    auto = "auto"
    hyperscan = "hyperscan"
    python = "python"


def _source(paths: list[str], git: bool, staged: bool, stdin: bool) -> Source:
    chosen = [name for name, on in (("--git", git), ("--staged", staged)) if on]
    if stdin or paths == ["-"]:
        chosen.append("--stdin")
    if len(chosen) > 1:
        raise InvalidInput(f"choose one of {', '.join(chosen)}", code="conflicting_options")
    if "-" in paths and paths != ["-"]:
        raise InvalidInput("'-' (stdin) cannot be combined with paths", code="conflicting_options")
    if git:
        return "git"
    if staged:
        return "staged"
    return "stdin" if chosen == ["--stdin"] else "files"


def _emit(
    result: ScanResult, output_format: OutputFormat, out: Console, request: ScanRequest
) -> None:
    if output_format is OutputFormat.json:
        out.print(to_json(result), markup=False, highlight=False, soft_wrap=True)
    elif output_format is OutputFormat.sarif:
        # Git paths are already relative to the repository top; files are made relative here.
        root = files_root(request.paths) if request.source == "files" else None
        document = to_sarif(result.findings, default_rules(), root=root)
        out.print(json.dumps(document, indent=2), markup=False, highlight=False, soft_wrap=True)
    else:
        render_text(result, out)


def _run(request: ScanRequest, output_format: OutputFormat, err: Console) -> ScanResult:
    if output_format is not OutputFormat.text:
        return run_scan(request)
    progress = RichProgress(err)
    try:
        return run_scan(request, progress=progress)
    finally:
        progress.stop()


def scan(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files or directories (default: .); '-' reads stdin.", show_default=False
        ),
    ] = None,
    git: Annotated[bool, typer.Option("--git", help="Scan the lines every commit added.")] = False,
    staged: Annotated[bool, typer.Option("--staged", help="Scan the staged changes.")] = False,
    stdin: Annotated[bool, typer.Option("--stdin", help="Scan standard input.")] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="Report format.")
    ] = OutputFormat.text,
    json_output: Annotated[
        bool, typer.Option("--json", help="Same as --format json.", show_default=False)
    ] = False,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Accepted findings (a baseline file).")
    ] = None,
    write_baseline_to: Annotated[
        Path | None,
        typer.Option("--write-baseline", help="Write all current findings as a baseline, exit 0."),
    ] = None,
    no_gitignore: Annotated[
        bool, typer.Option("--no-gitignore", help="Also scan files .gitignore excludes.")
    ] = False,
    max_file_size: Annotated[
        str, typer.Option("--max-file-size", help="Skip larger files (e.g. 10M, 512K).")
    ] = "10M",
    report_to: Annotated[
        str | None,
        typer.Option(
            "--report-to",
            help="POST findings (redacted) to this URL, and each of our keys found with its "
            "location, to be revoked (a Keyguard /v1/leaks/report URL; https, or http to "
            "loopback; the leaks:report key in KEYGUARD_API_KEY).",
        ),
    ] = None,
    since_commit: Annotated[
        str | None,
        typer.Option("--since-commit", help="With --git: only commits after REV (REV..HEAD)."),
    ] = None,
    log_opts: Annotated[
        str | None,
        typer.Option("--log-opts", help="With --git: git log options choosing the commits."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Ask the service (KEYGUARD_BASE_URL, with a keys:verify key in "
            "KEYGUARD_API_KEY) whether each of our keys found is live, revoked or unknown.",
        ),
    ] = False,
    include_invalid: Annotated[
        bool,
        typer.Option("--include-invalid", help="Also report kg_ look-alikes whose checksum fails."),
    ] = False,
    jobs: Annotated[int, typer.Option("--jobs", min=0, help="Processes (0: one per core).")] = 0,
    engine: Annotated[
        EngineChoice, typer.Option("--engine", help="Matching engine.")
    ] = EngineChoice.auto,
) -> None:
    """Scan files, git history, staged changes or stdin for leaked API keys."""
    if json_output:
        if output_format not in (OutputFormat.text, OutputFormat.json):
            raise typer.BadParameter(
                f"--json means --format json, not --format {output_format.value}",
                param_hint="--json",
            )
        output_format = OutputFormat.json
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False)
    try:
        code = _scan(
            paths or ["."],
            git=git,
            staged=staged,
            stdin=stdin,
            output_format=output_format,
            baseline=baseline,
            write_baseline_to=write_baseline_to,
            gitignore=not no_gitignore,
            max_file_size=max_file_size,
            report_to=report_to,
            include_invalid=include_invalid,
            check=check,
            since_commit=since_commit,
            log_opts=log_opts,
            jobs=jobs,
            engine=engine,
            out=out,
            err=err,
        )
    except KeyguardError as error:
        _fail(err, error.message)
    except OSError as error:
        _fail(err, f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
    except KeyboardInterrupt:
        _fail(err, "interrupted")
    except Exception as error:  # the last line of defence: no traceback, exit 2
        _fail(err, f"internal error: {type(error).__name__}: {error}")
    raise typer.Exit(code)


def _fail(err: Console, message: str) -> None:
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_ERROR)


def _scan(
    paths: list[str],
    *,
    git: bool,
    staged: bool,
    stdin: bool,
    output_format: OutputFormat,
    baseline: Path | None,
    write_baseline_to: Path | None,
    gitignore: bool,
    max_file_size: str,
    report_to: str | None,
    include_invalid: bool,
    check: bool,
    since_commit: str | None,
    log_opts: str | None,
    jobs: int,
    engine: EngineChoice,
    out: Console,
    err: Console,
) -> int:
    source = _source(paths, git, staged, stdin)
    if (since_commit is not None or log_opts is not None) and source != "git":
        raise InvalidInput("--since-commit and --log-opts need --git", code="conflicting_options")
    accepted = load_baseline(baseline) if baseline is not None else frozenset()
    request = ScanRequest(
        paths=tuple(p for p in paths if p != "-") or (".",),
        source=source,
        gitignore=gitignore,
        max_file_size=parse_size(max_file_size),
        jobs=jobs,
        engine=engine.value,
        stdin=sys.stdin.buffer.read() if source == "stdin" else b"",
        include_invalid=include_invalid,
        since_commit=since_commit,
        log_opts=log_opts,
        check=_hook(check, report_to),
    )
    result = _run(request, output_format, err)
    result.findings, result.stats.baselined = apply_baseline(result.findings, accepted)
    if write_baseline_to is not None:
        write_baseline(write_baseline_to, result.findings)
        err.print(f"wrote {len(result.findings)} finding(s) to {write_baseline_to}", markup=False)
        return EXIT_CLEAN
    _emit(result, output_format, out, request)
    if report_to is not None:
        headers = request.check.headers if isinstance(request.check, KeyReporter) else None
        post_findings(report_to, result.findings, headers=headers)
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def _hook(check: bool, report_to: str | None) -> KeyChecker | KeyReporter | None:
    """What runs in the worker for each of our keys: --check asks the service about it,
    --report-to sends it there with its location (keyguard.scanner.report_keys)."""
    checker = checker_from_env(dict(os.environ)) if check else None
    if report_to is None:
        return checker
    return reporter_from_env(report_to, dict(os.environ), checker)
