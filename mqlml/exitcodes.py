"""Exit codes of the ``mqlml`` command, one meaning each, so a scheduler can branch on them.

=====  =====================  ==========================================================
code   name                   meaning
=====  =====================  ==========================================================
0      :data:`OK`             done; ``monitor``: fine
1      :data:`ATTENTION`      ``check``: an error finding; ``monitor``: watch;
                              ``recalibrate``: the new calibration was not better, so
                              nothing was written
2      :data:`USAGE_ERROR`    a usage or input error: a bad flag or value, a missing or
                              unreadable file, a bad config, a bundle that fails its checks
3      :data:`RECALIBRATE`    ``monitor``: recalibrate (the trees can stay)
4      :data:`RETRAIN`        ``monitor``: retrain (the ranking dropped)
130    :data:`INTERRUPTED`    stopped by SIGINT (Ctrl-C); no output written
143    :data:`TERMINATED`     stopped by SIGTERM; no output written
=====  =====================  ==========================================================
"""

from __future__ import annotations

__all__ = [
    "ATTENTION",
    "INTERRUPTED",
    "OK",
    "RECALIBRATE",
    "RECOMMENDATION_CODES",
    "RETRAIN",
    "TERMINATED",
    "USAGE_ERROR",
]

#: Done; monitor: nothing calls for action.
OK = 0
#: Attention needed: check found an error, monitor says watch, recalibrate wrote nothing.
ATTENTION = 1
#: A usage or input error (bad flag, missing file, bad config or bundle).
USAGE_ERROR = 2
#: Monitor: recalibrate on recent outcomes.
RECALIBRATE = 3
#: Monitor: retrain on recent leads.
RETRAIN = 4
#: Stopped by SIGINT (128 + 2, the shell's convention).
INTERRUPTED = 130
#: Stopped by SIGTERM (128 + 15).
TERMINATED = 143

#: Monitor's recommendation -> its exit code.
RECOMMENDATION_CODES = {
    "fine": OK,
    "watch": ATTENTION,
    "recalibrate": RECALIBRATE,
    "retrain": RETRAIN,
}
