"""``python -m flushwatch`` is the same as the ``flushwatch`` command."""

from flushwatch.cli.main import main

if __name__ == "__main__":
    main()
