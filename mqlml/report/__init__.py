"""The comparison report: the numbers, the tables, the plots and the files."""
