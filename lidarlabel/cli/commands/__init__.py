"""Sub-commands of ``lidarlabel``: one module each (see :mod:`lidarlabel.cli`)."""
