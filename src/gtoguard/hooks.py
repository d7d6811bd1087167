"""The entry point every installed shim runs: ``python -I -m gtoguard.hooks HOOK [ARGS]``.

It stays at the top of the package, where shims installed by every earlier version look
for it; the hooks themselves are ``server/hooks.py`` (judging: ``server/pushcheck.py``)."""

from gtoguard.server.hooks import exit_now, main

if __name__ == "__main__":
    exit_now(main())
