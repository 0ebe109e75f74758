"""The `flora-mcp` command: parse options, build settings once, run."""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from typing import Any, Literal, get_args, get_origin

from flora_mcp import __version__
from flora_mcp.settings import Settings, declared, env_name, shown_default


def environment_help() -> str:
    """The `--help` epilog: every setting's variable, help and default, from its declaration."""
    lines = ["environment variables (the options above override them):"]
    for name, info, _ in declared():
        lines.append(f"  {env_name(name)}")
        lines.extend(
            f"      {line}"
            for line in textwrap.wrap(f"{info.description} (default: {shown_default(info)})", 84)
        )
    return "\n".join([*lines, "", HTTP_AUTH_HELP])


HTTP_AUTH_HELP = """\
HTTP authentication: with --auth-token, clients must send 'Authorization: Bearer <token>'
and the server's FLORA_API_KEY pays; without it, a client may send its own FLORA key as
the bearer token, used for its requests only (--require-client-key makes that mandatory).
Binding to a non-loopback address needs one of the two, or --allow-unauthenticated."""


def _add_options(parser: argparse.ArgumentParser | Any, scope: str, default: Any) -> None:
    """One flag per declared setting of `scope`; `default` None (main parser) or SUPPRESS
    (subcommands, so that `flora-mcp --log-level DEBUG demo` keeps the value given first)."""
    for name, info, option in declared():
        if option is None or option.scope != scope:
            continue
        help_ = f"{info.description} (env {env_name(name)})"
        annotation = info.annotation
        if annotation is bool:
            parser.add_argument(option.flag, dest=name, action="store_true", default=default, help=help_)
        elif get_origin(annotation) is Literal:
            parser.add_argument(
                option.flag, dest=name, choices=get_args(annotation), default=default, help=help_
            )
        else:
            kind: type[Any] = annotation if annotation in (int, float) else str  # type: ignore[assignment]
            parser.add_argument(option.flag, dest=name, type=kind, default=default, help=help_)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _add_options(common, "all", argparse.SUPPRESS)
    epilog = environment_help()

    parser = argparse.ArgumentParser(
        prog="flora-mcp",
        description="MCP server for the FLORA generative-media API. With no command, serves MCP over stdio.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_options(parser, "all", None)
    parser.add_argument("--version", action="version", version=f"flora-mcp {__version__}")
    _add_options(parser.add_argument_group("serving (without a command)"), "serve", None)
    commands = parser.add_subparsers(dest="command", metavar="{sandbox,demo}")

    sandbox = commands.add_parser(
        "sandbox",
        help="run the embedded FLORA sandbox alone; prints its base URL on the first line",
        description="Run the embedded FLORA sandbox. Any non-empty bearer key is accepted; each key sees "
        "its own workspace. Point a client (or flora-mcp via FLORA_BASE_URL) at the printed URL.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    # The sandbox's own bind, not the MCP server's: these are not settings.
    sandbox.add_argument(
        "--host", dest="sandbox_host", default="127.0.0.1", help="interface (default 127.0.0.1)"
    )
    sandbox.add_argument(
        "--port", dest="sandbox_port", type=int, default=0, help="port (default: a free one)"
    )
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
        default="conflict",
        help="a repeated Idempotency-Key: refuse it with 409 idempotency_duplicate, as FLORA does (default), "
        "or replay the first answer, as FLORA's docs describe",
    )

    demo = commands.add_parser(
        "demo",
        help="play the seed task as an MCP host would, against the sandbox; saves the outputs",
        description="Start `flora-mcp` over stdio as a host would, run the four steps for 3 product shots "
        "of a ceramic mug at 4:3, show progress, save the images and print their paths. Uses the "
        "sandbox unless --live is given.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    _add_options(demo, "demo", None)
    demo.add_argument("--count", type=int, default=3, choices=range(1, 9), metavar="1-8", help="images (3)")
    demo.add_argument("--aspect-ratio", default="4:3", help="aspect ratio (default 4:3)")
    demo.add_argument("--live", action="store_true", help="use FLORA_API_KEY and spend real credits")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings, overridden by the options given."""
    overrides = {
        name: getattr(args, name)
        for name, _, option in declared()
        if option and getattr(args, name, None) is not None
    }
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
    if settings.database_url is None:
        _serve_with(settings)
        return
    from flora_mcp.store import StoreError  # lazy: only a shared database can refuse the start

    try:
        _serve_with(settings)
    except StoreError as exc:
        sys.exit(f"flora-mcp: not starting: {exc}. Check FLORA_DATABASE_URL and that the database is up.")


def _serve_with(settings: Settings) -> None:
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
        args.sandbox_host,
        args.sandbox_port,
        speed=speed,
        on_ready=ready,
        seed=args.seed,
        faults=faults,
        idempotency=args.idempotency,
    )
