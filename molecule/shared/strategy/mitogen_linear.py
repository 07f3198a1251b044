# Copyright: (c) 2026, baremetal.mlops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mitogen_linear strategy, taken from the installed ansible_mitogen package.

Molecule scenarios point ANSIBLE_STRATEGY_PLUGINS here, so no path inside the
virtualenv (which names the Python version) is written into molecule.yml.
"""
from ansible_mitogen.plugins.strategy import mitogen_linear

StrategyModule = mitogen_linear.StrategyModule
