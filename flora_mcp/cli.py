"""The `flora-mcp` command: parse options, build settings once, run."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from flora_mcp import __version__
from flora_mcp.settings import DEFAULT_BASE_URL, Settings

ENVIRONMENT = f"""\
environment variables (the options above override them):
  FLORA_API_KEY        FLORA API key. Without one, the embedded sandbox is started on a free
                       loopback port and used instead (said on stderr).
  FLORA_BASE_URL       FLORA API base URL (default {DEFAULT_BASE_URL}).
  FLORA_TIMEOUT        seconds per FLORA API request (default 30).
  FLORA_MAX_ATTEMPTS   tries per API request: connection errors, timeouts, 408, 429 and 5xx
                       are retried with backoff, honouring Retry-After (default 4).
  FLORA_RETRY_BUDGET   seconds one request may spend on retries, waits included (default 60).
  FLORA_SANDBOX_SPEED  sandbox run time as a fraction of each model's estimate (default 0.25).
  FLORA_INLINE_MAX_SIDE
                       longest side in px of images shown inline in results (default 1024).
  FLORA_OUTPUT_DIR     where `flora-mcp demo` saves outputs (default ./flora-demo).
  FLORA_LOG_LEVEL      DEBUG, INFO, WARNING (default) or ERROR; logs go to stderr.
  FLORA_WORKSPACE_ID   workspace the `generate` tool uses when not told (default: the only one).
  FLORA_PROJECT_NAME   project `generate` finds or creates (default "Quick generations").
  FLORA_TRANSPORT, FLORA_HOST, FLORA_PORT, FLORA_STATELESS, FLORA_AUTH_TOKEN,
  FLORA_REQUIRE_CLIENT_KEY, FLORA_ALLOW_UNAUTHENTICATED
                       the serving options above (true/false for the switches).

HTTP authentication: with --auth-token, clients must send 'Authorization: Bearer <token>'
and the server's FLORA_API_KEY pays; without it, a client may send its own FLORA key as
the bearer token, used for its requests only (--require-client-key makes that mandatory).
Binding to a non-loopback address needs one of the two, or --allow-unauthenticated.
"""


def _settings_options(default: Any) -> argparse.ArgumentParser:
    """Options shared by every command; subcommands suppress their defaults so that
    `flora-mcp --log-level DEBUG demo` keeps the value given before the command."""
    common = argparse.ArgumentParser(add_help=False, argument_default=default)
    common.add_argument("--base-url", help="FLORA API base URL (env FLORA_BASE_URL)")
    common.add_argument("--timeout", type=float, help="seconds per API request (env FLORA_TIMEOUT)")
    common.add_argument(
        "--max-attempts", type=int, help="tries per API request, 1 = no retries (env FLORA_MAX_ATTEMPTS)"
    )
    common.add_argument(
        "--retry-budget", type=float, help="seconds one request may spend retrying (env FLORA_RETRY_BUDGET)"
    )
    common.add_argument(
        "--sandbox-speed", type=float, help="sandbox run time / model estimate (env FLORA_SANDBOX_SPEED)"
    )
    common.add_argument(
        "--inline-max-side", type=int, help="inline image size in px (env FLORA_INLINE_MAX_SIDE)"
    )
    common.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level (env FLORA_LOG_LEVEL)",
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _settings_options(argparse.SUPPRESS)

    parser = argparse.ArgumentParser(
        prog="flora-mcp",
        description="MCP server for the FLORA generative-media API. With no command, serves MCP over stdio.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_settings_options(None)],
    )
    parser.add_argument("--version", action="version", version=f"flora-mcp {__version__}")
    serving = parser.add_argument_group("serving (without a command)")
    serving.add_argument(
        "--transport",
        choices=["stdio", "sse", "http"],
        help="stdio (default); http = streamable HTTP at /mcp; sse = legacy HTTP+SSE at /sse",
    )
    serving.add_argument("--host", help="interface for http/sse (default 127.0.0.1)")
    serving.add_argument("--port", type=int, help="port for http/sse (default 8000; 0 = a free one)")
    serving.add_argument(
        "--stateless",
        action="store_true",
        default=None,
        help="http: no server-side sessions, JSON responses; replicas behind any load balancer",
    )
    serving.add_argument(
        "--auth-token",
        help="http/sse: require 'Authorization: Bearer <token>' (prefer env FLORA_AUTH_TOKEN: "
        "command lines are visible to other users)",
    )
    serving.add_argument(
        "--require-client-key",
        action="store_true",
        default=None,
        help="http/sse: each client must send its own FLORA key as its bearer token",
    )
    serving.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        default=None,
        help="allow a non-loopback bind with no authentication (e.g. behind an authenticating proxy)",
    )
    commands = parser.add_subparsers(dest="command", metavar="{sandbox,demo}")

    sandbox = commands.add_parser(
        "sandbox",
        help="run the embedded FLORA sandbox alone; prints its base URL on the first line",
        description="Run the embedded FLORA sandbox. Any non-empty bearer key is accepted; each key sees "
        "its own workspace. Point a client (or flora-mcp via FLORA_BASE_URL) at the printed URL.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    sandbox.add_argument(
        "--faults",
        default="",
        help='faults to inject, e.g. "POST /generate drop first; * 429 retry_after=2 p=0.3; '
        'GET /runs/* latency=0.5" (status, drop, first, retry_after=S, latency=S, p=P, times=N)',
    )
    sandbox.add_argument("--seed", type=int, help="seed for random faults and ids, to replay a run")
    sandbox.add_argument(
        "--idempotency",
        choices=["replay", "conflict"],
        default="replay",
        help="a repeated Idempotency-Key: replay the first answer (default) or refuse with 409",
    )

    demo = commands.add_parser(
        "demo",
        help="play the seed task as an MCP host would, against the sandbox; saves the outputs",
        description="Start `flora-mcp` over stdio as a host would, run the four steps for 3 product shots "
        "of a ceramic mug at 4:3, show progress, save the images and print their paths. Uses the "
        "sandbox unless --live is given.",
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    demo.add_argument("--out", help="directory for the outputs (env FLORA_OUTPUT_DIR, default ./flora-demo)")
    demo.add_argument("--count", type=int, default=3, choices=range(1, 9), metavar="1-8", help="images (3)")
    demo.add_argument("--aspect-ratio", default="4:3", help="aspect ratio (default 4:3)")
    demo.add_argument("--live", action="store_true", help="use FLORA_API_KEY and spend real credits")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    names = {
        "base_url",
        "timeout",
        "max_attempts",
        "retry_budget",
        "sandbox_speed",
        "inline_max_side",
        "log_level",
        "transport",
        "stateless",
        "auth_token",
        "require_client_key",
        "allow_unauthenticated",
    }
    if args.command is None:
        names |= {"host", "port"}
    overrides: dict[str, Any] = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if getattr(args, "out", None):
        overrides["output_dir"] = args.out
    return Settings.from_env(**overrides)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ValueError as exc:  # pydantic's ValidationError: one line per bad setting
        sys.exit(f"flora-mcp: invalid setting:\n{exc}")
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "sandbox":
        _run_sandbox(args, settings.sandbox_speed)
    elif args.command == "demo":
        from flora_mcp.demo import run_demo

        sys.exit(run_demo(settings, count=args.count, aspect_ratio=args.aspect_ratio, live=args.live))
    else:
        _serve(settings)


def _serve(settings: Settings) -> None:
    problem = settings.exposure_problem()
    if problem:
        sys.exit(f"flora-mcp: {problem}")
    if settings.transport == "stdio":
        from flora_mcp.server import build_server  # lazy: `sandbox` and `demo` need none of it

        build_server(settings).run("stdio")
        return
    import anyio

    from flora_mcp.server import serve_http

    def ready(url: str) -> None:
        print(f"flora-mcp: serving MCP over {settings.transport} at {url}", file=sys.stderr, flush=True)

    anyio.run(serve_http, settings, ready)


def _run_sandbox(args: argparse.Namespace, speed: float) -> None:
    from flora_mcp.sandbox import parse_faults, serve_sandbox

    try:
        faults = parse_faults(args.faults)
    except ValueError as exc:
        sys.exit(f"flora-mcp sandbox: --faults: {exc}")

    def ready(base_url: str) -> None:
        print(base_url, flush=True)  # the first line of output is the interface

    serve_sandbox(
        args.host,
        args.port,
        speed=speed,
        on_ready=ready,
        seed=args.seed,
        faults=faults,
        idempotency=args.idempotency,
    )
