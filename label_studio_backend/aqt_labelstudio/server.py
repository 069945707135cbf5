"""``aqt-backend``: run the ML backend with uvicorn and several worker processes.

Every worker process builds the app with :func:`aqt_labelstudio.app.create_app_from_env`, so the
settings are read once per process at start; the SQLite state in ``AQT_DATA_DIR`` is shared.
"""

from __future__ import annotations

import sys

import click
from aqt.errors import AqtError

__all__ = ["main"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; 0.0.0.0 inside a container.",
)
@click.option("--port", default=9090, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes (they share the state in AQT_DATA_DIR).",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option("--access-log/--no-access-log", default=True, show_default=True)
def main(host: str, port: int, workers: int, log_level: str, access_log: bool) -> None:
    """Serve the aqt ML backend for Label Studio (agreement, flags, predictions).

    Configure it with environment variables (LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY, AQT_DATA_DIR,
    AQT_WEBHOOK_SECRET, ...; see 'Connect in Label Studio' in README.md), then paste its URL into the project's
    Settings > Model, or run `aqt ls connect`.

    Example: AQT_DATA_DIR=./aqt-data aqt-backend --port 9090 --workers 2
    """
    import uvicorn

    from aqt_labelstudio.settings import Settings
    from aqt_labelstudio.store import Store

    try:
        settings = Settings.from_env()  # fail fast, in one line, before forking workers
        Store(settings.data_dir).close()
    except AqtError as exc:
        click.echo(f"aqt-backend: {exc.one_line()}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(
            f"aqt-backend: cannot use AQT_DATA_DIR={str(settings.data_dir)!r}: {exc}. "
            "Fix: point AQT_DATA_DIR at a writable directory.",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"aqt-backend: serving on http://{host}:{port} with {workers} worker(s); "
        f"data in {settings.data_dir}",
        err=True,
    )
    uvicorn.run(
        "aqt_labelstudio.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
