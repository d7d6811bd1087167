"""Whole repositories: the facts a check needs gathered from one, the helper's plans
and writes, every tag read for check --all and show, the decision log and tombstones.
Imports every layer below; never server, commands or ui."""
