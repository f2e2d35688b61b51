"""``python -m holefill.cli`` (e.g. under torchrun) runs the command line."""

from holefill.cli import main

main()
