"""The comparison report: the numbers, the tables, the plots and the files."""

from mqlml.report._compare import REPORT_FORMAT, compare, percent
from mqlml.report._files import REPORT_FILES, build_report, write_report
from mqlml.report._plots import PLOTS, render_plots
from mqlml.report._tables import readable, report_extras

__all__ = [
    "PLOTS",
    "REPORT_FILES",
    "REPORT_FORMAT",
    "build_report",
    "compare",
    "percent",
    "readable",
    "render_plots",
    "report_extras",
    "write_report",
]
