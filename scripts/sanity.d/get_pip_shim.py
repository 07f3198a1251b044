"""Offline stand-in for ansible-test's get-pip bootstrap script.

ansible-test's venv-based sanity tests (import) bootstrap pip in an empty
virtualenv with a get-pip.py downloaded from ci-files.testing.ansible.com,
which these machines cannot reach (and ansible-test clears the pip settings
that point pip at this machine's CA bundle). This installs the pip wheel that
the standard library bundles (ensurepip) instead of the exact pip version
ansible-test asks for; no network is used.
"""
import ensurepip
import sys

ensurepip.bootstrap(upgrade=True)
sys.exit(0)
