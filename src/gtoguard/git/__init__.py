"""Git, read and written: one way to start git, objects and refs, batch reads, signature
verification, a remote's tags. Imports model and policy, never config, registry, server,
commands or ui."""
