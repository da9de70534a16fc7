"""Imported only as the first forkserver preload (core.executors.local.pool_context), inside the fork server.

The fork server is the parent of every pool worker, and it exits only when its "alive" pipe closes; but each worker
inherits that pipe's write end, so after a `kill -9` of the process that started the server (a CLI extraction, a
job runner) nobody closes it: the server, its workers and the resource tracker would live on, holding memory. Asking
Linux to kill the server when its parent dies ends it, and the workers die with it (they ask the same of their
parent, core.executors.local.die_with_parent). This module's import is that request: the side effect is its purpose.
"""

from core.executors.local import kill_me_with_parent

kill_me_with_parent()
