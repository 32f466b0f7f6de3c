"""Seeded comparisons of arms (configs plus cfg-options), one tool for every testbed."""
from .experiment import Arm, Comparison, default_config, parse_arm
from .merge import merge_reports
from .report import format_differences, format_report, format_runs, format_summary, write_report
from .run import add_weight_hook, run_config, weight_spread
from .statistics import paired_difference, summarize, t_interval

__all__ = [
    'Arm', 'Comparison', 'default_config', 'merge_reports', 'parse_arm', 'format_differences',
    'format_report', 'format_runs', 'format_summary', 'write_report', 'add_weight_hook',
    'run_config', 'weight_spread', 'paired_difference', 'summarize', 't_interval'
]
