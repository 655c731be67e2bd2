"""The comparison report: the numbers, the tables, the plots and the files."""

from mqlml.report._compare import REPORT_FORMAT, compare, judged_by, percent
from mqlml.report._files import REPORT_FILES, build_report, write_report
from mqlml.report._plots import PLOTS, figures, render_plots
from mqlml.report._tables import readable, report_extras, score_scale

__all__ = [
    "PLOTS",
    "REPORT_FILES",
    "REPORT_FORMAT",
    "build_report",
    "compare",
    "figures",
    "judged_by",
    "percent",
    "readable",
    "render_plots",
    "report_extras",
    "score_scale",
    "write_report",
]
