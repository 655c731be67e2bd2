"""The ``mqlml`` command: a parser per subcommand, each mapping its arguments onto one
library call and printing the result.

Results go to stdout, progress and errors to stderr; exit codes are those of
:mod:`mqlml.exitcodes`. Each command group is one module (``_data``: sample, init, check;
``_train``; ``_score``; ``_report``: report, scorecard; ``_registry``: promote;
``_monitor``: monitor, recalibrate; ``_demo``), registered on :data:`app` in that order,
the order of ``mqlml --help``. The library is imported inside each command, so
``mqlml --help`` starts fast.
"""

from mqlml.cli._app import app, main

# isort: off
# Each import registers its commands on app; this order is the order of `mqlml --help`.
from mqlml.cli import _data  # noqa: F401
from mqlml.cli import _train  # noqa: F401
from mqlml.cli import _score  # noqa: F401
from mqlml.cli import _report  # noqa: F401
from mqlml.cli import _registry  # noqa: F401
from mqlml.cli import _monitor  # noqa: F401
from mqlml.cli import _demo  # noqa: F401
# isort: on

__all__ = ["app", "main"]
