"""The commands of ``gtoguard``, one module per family of verbs (as pre-commit keeps
them); ``cli`` puts them together."""
