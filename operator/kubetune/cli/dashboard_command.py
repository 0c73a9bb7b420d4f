"""``kubetune dashboard SOURCE``: optuna-dashboard served on this machine over a local run's
study or, read-only, over a cluster TuningJob's study journal (re-read as trials finish)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from kubetune.cli.report_command import SOURCE_HELP, cluster_options

# A cluster study is listed again at most this often while the dashboard polls it.
REFRESH_SECONDS = 2.0


class DashboardMissing(RuntimeError):
    """optuna-dashboard (the extra ``dashboard``) is not installed."""


def serve_dashboard(storage: Any, what: str, host: str, port: int) -> None:
    """Serve optuna-dashboard over ``storage`` until interrupted; prints the URL first."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    try:
        from optuna_dashboard import wsgi
    except ImportError:
        raise DashboardMissing(
            "the dashboard needs optuna-dashboard: pip install 'kubetune[dashboard]'"
        ) from None

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # one line per request: noise
            pass

    app = wsgi(storage)
    with make_server(host, port, app, server_class=Server, handler_class=QuietHandler) as server:
        bound = server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        click.echo(f"optuna-dashboard for {what}: http://{shown}:{bound}/  (Ctrl-C stops)")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


def cluster_storage(
    name: str, namespace: str | None, kubeconfig: str | None, context: str | None
) -> tuple[Any, str]:
    """The read-only, self-refreshing study storage of TuningJob ``name``."""
    from kubetune.report.cluster import connect, get_tuningjob, open_cluster_storage

    connection = connect(kubeconfig, context, namespace)
    obj = get_tuningjob(connection, name)
    storage = open_cluster_storage(connection, obj, refresh_seconds=REFRESH_SECONDS)
    return storage, f"tuningjob/{name} in namespace {connection.namespace} (read-only)"


def local_storage(source: Path, output_dir: Path | None) -> tuple[Any, str]:
    from kubetune.report.source import local_reports

    found = local_reports(source, output_dir)[0]
    return found.storage, found.origin


@click.command(epilog=SOURCE_HELP)
@click.argument("source")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, help="Port to listen on (0: any free port)."
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the local run went (as for kubetune report).",
)
@cluster_options
def dashboard(
    source: str,
    host: str,
    port: int,
    output_dir: Path | None,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | None,
) -> None:
    """Open a study in optuna-dashboard, served on this machine."""
    from kubetune.report.cluster import ClusterError, tuningjob_name
    from kubetune.report.source import SourceError

    errors = Console(stderr=True, highlight=False)
    name = tuningjob_name(source)
    try:
        if name is not None and not Path(source).exists():
            storage, what = cluster_storage(name, namespace, kubeconfig, context)
        else:
            storage, what = local_storage(Path(source).expanduser(), output_dir)
        serve_dashboard(storage, what, host, port)
    except (SourceError, ClusterError, DashboardMissing, OSError) as error:
        errors.print(f"[red]error:[/red] {error}", soft_wrap=True)
        sys.exit(1)
