"""``python -m mqlml``: the ``mqlml`` command."""

if __name__ == "__main__":
    from mqlml.cli import main

    main()
