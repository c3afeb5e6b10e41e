"""The ``flushwatch`` command line: a thin typer layer over the library.

Each command parses options, calls one library function and renders the result. Only this
package configures logging or prints. ``main`` maps every :class:`FlushwatchError` to one line
on stderr and its exit code. Command modules must not import torch or transformers at import
time (``tests/test_import_hygiene.py`` checks).
"""
