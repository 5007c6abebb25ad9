"""Comparing saved timings: ``mlcpu compare``'s verdicts, their limits, paired-ratio statistics.

Imports ``records`` only (and scipy for the statistics), so reading and judging result files
never loads scikit-learn or an engine.
"""
