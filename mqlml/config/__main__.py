"""``python -m mqlml.config [FOLDER]``: write the config reference (``make docs``)."""

from mqlml.config._reference import main

if __name__ == "__main__":  # pragma: no cover
    main()
