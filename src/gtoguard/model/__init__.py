"""The registry as gto defines it: tag names, tag objects, registry state, the views
of gto show and gto history, receipts. Pure: imports no pygit2, click, yaml, jsonschema
or subprocess, and nothing of gtoguard but errors."""
