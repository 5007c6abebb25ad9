"""Plans: which units of work one run sends, and how their results become one per configuration.

``whole`` (configurations as they are), ``pieces`` (forests cut into pieces of trees and joined
back, sized by ``piece_costs`` with ``schedule``), ``prefixes`` (one forest per model, every
smaller size its first trees). Plans import ``training``, ``records`` and ``data``; never an
engine or a strategy.
"""
