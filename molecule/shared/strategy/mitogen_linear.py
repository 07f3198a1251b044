# Copyright: baremetal.mlops contributors; Apache-2.0
"""The mitogen_linear strategy, taken from the installed ansible_mitogen package.

Molecule scenarios point ANSIBLE_STRATEGY_PLUGINS here, so no path inside the
virtualenv (which names the Python version) is written into molecule.yml.
"""
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule  # noqa: F401
