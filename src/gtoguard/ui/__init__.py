"""The registry page (``gtoguard ui``): a small server-rendered app over one repository.

An edge like the CLI: it reads through the helper's documents (``show``, ``check --all``,
``history``) and writes through the helper's plan, write and push, never through the
core's internals or git directly. It is the optional extra ``gtoguard[ui]`` (Starlette,
uvicorn, Jinja2); no hook and no other command imports it.

``site`` reads and caches what the pages show, ``actions`` turns a form into the helper's
request and carries it out, ``app`` is the web application, ``access`` lets in only the
holder of the run's token, ``serve`` binds and runs it.
"""
