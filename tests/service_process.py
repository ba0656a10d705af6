"""The service as its own process, for the fault tests (kill -9, SIGTERM, PID 1, a full or
read-only disk): ``python tests/service_process.py`` serves ``create_app()`` with settings
from the ``ATTRIBUTION_*`` variables on a free loopback port, prints ``PORT <n>`` and runs
uvicorn in the main thread, so SIGTERM takes uvicorn's real path.

Two variables slow a run down so that a test can act while it is in progress, without
touching what is under test (the service's status, lease and shutdown handling):

* ``SLOW_STAGE=<stage>:<seconds>``: after the library reports ``<stage>`` (e.g. ``journeys``),
  the run sleeps ``<seconds>``, with its status showing that stage;
* ``SLOW_WRITE=<seconds>``: the run sleeps inside the library's atomic write, while its
  temporary ``.<run_id>.<x>.tmp`` directory exists.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from typing import Any

import uvicorn

import attribution


def _slow_down() -> None:
    stage_spec = os.environ.get("SLOW_STAGE")
    if stage_spec:
        slow_stage, seconds = stage_spec.rsplit(":", 1)
        real_attribute = attribution.attribute

        def attribute(*args: Any, progress: Any = None, **kwargs: Any) -> Any:
            def report(stage: str) -> None:
                progress(stage)
                if stage == slow_stage:
                    time.sleep(float(seconds))
            return real_attribute(*args, progress=report, **kwargs)

        attribution.attribute = attribute  # type: ignore[assignment]
    write_delay = os.environ.get("SLOW_WRITE")
    if write_delay:
        import attribution.report._page as page

        real_write = page.write_report

        def write_report(*args: Any, **kwargs: Any) -> Any:
            time.sleep(float(write_delay))
            return real_write(*args, **kwargs)

        page.write_report = write_report


def main() -> None:
    from service import create_app

    _slow_down()
    app = create_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn serves
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
