"""The ``fdb-election`` command line (``fdb_election.cli.main:main``); see docs/reference/cli.md.

Modules: ``main`` (the click group), one module per command group (``status``, ``candidates``,
``config_cmd``, ``admin``, ``run``, ``demo``), ``context`` (``--db``/``--election`` and error
mapping), ``output`` and ``snapshot`` (what is printed), ``child`` and ``grace`` (how ``run``
supervises CMD), ``exit_codes``.
"""
